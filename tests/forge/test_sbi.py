from __future__ import annotations

import cv2
import numpy as np
import pytest

import fakelens.forge.sbi as sbi_module
from fakelens.faces.landmarks import landmarks68
from fakelens.forge import SBIConfig, self_blend
from fakelens.forge.augment import paired_augment
from fakelens.forge.masks import HULL_VARIANTS, hull_mask
from fakelens.forge.sbi import (
    HULL_TYPES,
    _hsv_shift,
    random_affine,
    sbi_hull_mask,
    soft_blend_mask,
    source_transform,
)


@pytest.fixture(scope="module")
def face(face_pipeline, astronaut):
    crop = face_pipeline.extract(astronaut)[0].crop
    return crop, landmarks68(crop, face_pipeline.config.crop)


def test_same_seed_same_forgery(face):
    crop, lm = face
    a = self_blend(crop, lm, np.random.default_rng(7))
    b = self_blend(crop, lm, np.random.default_rng(7))
    assert np.array_equal(a.fake, b.fake) and np.array_equal(a.mask, b.mask)
    c = self_blend(crop, lm, np.random.default_rng(8))
    assert not np.array_equal(a.fake, c.fake)


def test_fake_differs_from_target_only_inside_the_mask(face):
    crop, lm = face
    for seed in range(6):
        r = self_blend(crop, lm, np.random.default_rng(seed))
        assert r.fake.shape == crop.shape and r.fake.dtype == np.uint8
        assert r.mask.shape == crop.shape[:2] and 0 <= r.mask.min() and r.mask.max() <= 1
        diff = np.abs(r.fake.astype(int) - r.target.astype(int)).max(axis=2)
        outside = r.mask < 1e-3
        assert diff[outside].max() <= 1  # rounding only
        assert diff[~outside].mean() > 1  # the blend really changed the face
        # the mask covers part of the face, not the whole crop
        coverage = (r.mask > 0.05).mean()
        assert 0.02 < coverage < 0.6


def test_mask_sits_on_the_face(face):
    crop, lm = face
    r = self_blend(crop, lm, np.random.default_rng(1))
    ys, xs = np.nonzero(r.mask > 0.5 * r.mask.max())
    centre = np.array([xs.mean(), ys.mean()])
    assert np.linalg.norm(centre - lm[30]) < 0.25 * crop.shape[0]  # near the nose tip


@pytest.mark.parametrize("variant", HULL_VARIANTS)
def test_hull_variants_are_nested_sensibly(face, variant):
    crop, lm = face
    m = hull_mask(crop.shape[:2], lm, variant=variant, forehead=True)
    full = hull_mask(crop.shape[:2], lm, variant="extended", forehead=True)
    assert set(np.unique(m)) <= {0.0, 1.0} and m.sum() > 0
    assert (m * full).sum() >= 0.9 * m.sum()  # every variant lies (almost) within the extended hull


def test_forehead_makes_the_hull_taller(face):
    crop, lm = face
    with_fh = hull_mask(crop.shape[:2], lm, "full", forehead=True)
    without = hull_mask(crop.shape[:2], lm, "full", forehead=False)
    assert np.nonzero(with_fh)[0].min() < np.nonzero(without)[0].min()


def test_soft_mask_is_soft_and_inside(face):
    crop, lm = face
    hard = hull_mask(crop.shape[:2], lm, "full")
    soft = soft_blend_mask(hard, np.random.default_rng(0))
    assert soft.max() == pytest.approx(1.0, abs=0.05)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > 0.05 * (soft > 0.05).sum()  # a real transition band


def test_unknown_variant_is_refused(face):
    crop, lm = face
    with pytest.raises(ValueError, match="unknown hull variant"):
        hull_mask(crop.shape[:2], lm, "cheeks")
    with pytest.raises(ValueError):
        self_blend(crop, lm, np.random.default_rng(0), SBIConfig(hull_variants=("cheeks",)))


def test_paired_augment_applies_the_same_change_to_both(face):
    crop, _ = face
    other = crop.copy()
    for seed in range(5):
        a, b = paired_augment([crop, other], np.random.default_rng(seed))
        assert np.array_equal(a, b)


# --- the official mechanism (mapooon/SelfBlendedImages) -------------------------------------------


def test_same_seed_same_everything_and_types(face):
    crop, lm = face
    small, lm_small = cv2.resize(crop, (112, 112)), lm / 2
    a = self_blend(small, lm_small, np.random.default_rng([3, 1, 4]))
    b = self_blend(small, lm_small, np.random.default_rng([3, 1, 4]))
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("fake", "target", "mask"))
    assert a.fake.shape == a.target.shape == small.shape and a.fake.dtype == a.target.dtype == np.uint8
    assert a.mask.dtype == np.float32 and a.mask.shape == small.shape[:2]


def test_fake_equals_target_exactly_where_the_mask_is_zero(face):
    crop, lm = face
    for seed in range(4):
        r = self_blend(crop, lm, np.random.default_rng(seed))
        assert 0 <= r.mask.min() and r.mask.max() <= 1
        zero = r.mask == 0
        assert zero.any() and np.array_equal(r.fake[zero], r.target[zero])


def test_the_affine_moves_the_source_and_the_mask_together(face):
    crop, lm = face
    hull = sbi_hull_mask(crop.shape[:2], lm, "dfl_full", forehead=False)
    painted = np.repeat((hull * 255).astype(np.uint8)[..., None], 3, axis=2)  # the hull drawn in the image
    for seed in range(4):
        image, mask = random_affine(painted, hull, np.random.default_rng(seed))
        moved = (mask != hull).sum()
        assert moved > 0.02 * hull.sum()  # it did move
        # the image's hull and the mask's hull moved alike: they disagree only on edge pixels
        assert ((image[..., 0] > 127) != (mask > 0.5)).sum() < 0.1 * moved


def test_the_source_transform_runs_once_on_the_source_or_the_target(face, monkeypatch):
    crop, lm = face
    calls = []

    def recording(img, rng, config=None):
        out = source_transform(img, rng, config)
        calls.append(out)
        return out

    monkeypatch.setattr(sbi_module, "source_transform", recording)
    on_target = 0
    for seed in range(8):
        calls.clear()
        r = self_blend(crop, lm, np.random.default_rng(seed))
        assert len(calls) == 1
        on_target += np.array_equal(r.target, calls[0])
        if not np.array_equal(r.target, calls[0]):
            assert np.array_equal(r.target, crop)  # the source got it: the target is the untouched face
    assert 0 < on_target < 8


def test_source_transform_always_changes_colour_with_uint8_semantics(face):
    crop, _ = face
    round_trip = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2HSV), cv2.COLOR_HSV2RGB)
    for seed in range(5):
        out = source_transform(crop, np.random.default_rng(seed))
        assert out.shape == crop.shape and out.dtype == np.uint8 and not np.array_equal(out, crop)
        # HSV +-0.3 on uint8 moves each level by 0 or -1: close to a plain HSV round trip
        hsv = _hsv_shift(crop, np.random.default_rng(seed))
        assert np.abs(hsv.astype(int) - round_trip).mean() < 2.0
        assert np.abs(hsv.astype(int) - round_trip).max() <= 12


def test_soft_mask_works_at_an_absolute_size(face):
    """The official resize goes to 192-256 px whatever the input size, so the same draw on the same
    face at twice the resolution gives the same soft mask (a relative resize would not)."""
    crop, lm = face
    h, w = crop.shape[:2]
    for seed in range(3):
        small = soft_blend_mask(sbi_hull_mask((h, w), lm, "dfl_full", False), np.random.default_rng(seed))
        big_hull = sbi_hull_mask((2 * h, 2 * w), lm * 2 + 0.5, "dfl_full", False)
        big = soft_blend_mask(big_hull, np.random.default_rng(seed))
        assert np.abs(cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA) - small).max() < 0.2


@pytest.mark.parametrize("variant", HULL_TYPES)
def test_face_xray_hulls_and_the_forehead(face, variant):
    crop, lm = face
    with_fh = sbi_hull_mask(crop.shape[:2], lm, variant, forehead=True)
    without = sbi_hull_mask(crop.shape[:2], lm, variant, forehead=False)
    assert with_fh.dtype == np.float32 and 0 <= with_fh.min() and with_fh.max() == 1
    if variant == "facehull":  # only the face hull uses the forehead points, as with 81 landmarks
        assert np.nonzero(with_fh)[0].min() < np.nonzero(without)[0].min()
    else:
        assert np.array_equal(with_fh, without)
    if variant == "extended":  # brows lifted above the components hull's
        lower = sbi_hull_mask(crop.shape[:2], lm, "components", forehead=False)
        assert np.nonzero(with_fh)[0].min() < np.nonzero(lower)[0].min()


def test_defaults_are_the_official_values():
    cfg = SBIConfig()
    assert set(cfg.hull_variants) == {"dfl_full", "extended", "components", "facehull"}
    assert cfg.blend_ratios == (0.25, 0.5, 0.75, 1.0, 1.0, 1.0) and cfg.mask_size == (192, 256)
    assert (cfg.p_rgb_shift, cfg.p_no_forehead, cfg.shift_x, cfg.shift_y) == (0.3, 0.25, 0.03, 0.015)
