from __future__ import annotations

import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import SBIConfig, self_blend
from fakelens.forge.augment import paired_augment
from fakelens.forge.masks import HULL_VARIANTS, hull_mask
from fakelens.forge.sbi import soft_blend_mask


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
