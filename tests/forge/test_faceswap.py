from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import FaceSwapConfig, face_swap
from fakelens.forge.faceswap import colour_transfer, warp_face
from fakelens.forge.masks import hull_mask

# the target is the astronaut moved (scaled, shifted) and tinted red: a second "identity" whose
# landmarks are known exactly, so the swap's geometry and colour can be checked
MOVE = np.array([[1.06, 0.0, -9.0], [0.0, 1.06, 4.0]], np.float32)
TINT = np.array([45.0, -20.0, -25.0], np.float32)


@pytest.fixture(scope="module")
def pair(face_pipeline, astronaut):
    src = face_pipeline.extract(astronaut)[0].crop
    src_lm = landmarks68(src, face_pipeline.config.crop)
    h, w = src.shape[:2]
    moved = cv2.warpAffine(src, MOVE, (w, h), borderMode=cv2.BORDER_REFLECT)
    tgt = np.clip(moved.astype(np.float32) + TINT, 0, 255).astype(np.uint8)
    tgt_lm = src_lm @ MOVE[:, :2].T + MOVE[:, 2]
    return src, src_lm, tgt, tgt_lm, moved


def _far_outside(mask: np.ndarray, px: int = 6) -> np.ndarray:
    return cv2.distanceTransform((mask < 1e-3).astype(np.uint8), cv2.DIST_L2, 3) > px


@pytest.mark.parametrize("blend", ["seamless", "feather"])
def test_mask_covers_the_face_and_nothing_else_changes(pair, blend):
    src, src_lm, tgt, tgt_lm, _ = pair
    r = face_swap(src, src_lm, tgt, tgt_lm, np.random.default_rng(0), FaceSwapConfig(blends=(blend,)))
    assert r.fake.shape == tgt.shape and r.fake.dtype == np.uint8 and r.mask.dtype == np.float32
    assert 0 <= r.mask.min() and r.mask.max() <= 1 and np.array_equal(r.target, tgt)
    hull = hull_mask(tgt.shape[:2], tgt_lm, "full") > 0
    core = cv2.erode(hull.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    assert (r.mask[core] > 0.5).mean() > 0.95  # the face's interior is marked as changed
    assert 0.15 < (r.mask > 0.5).mean() < 0.7
    diff = np.abs(r.fake.astype(int) - tgt.astype(int)).max(axis=2)
    assert diff[r.mask < 1e-3].max() == 0  # outside the mask the target is untouched
    assert diff[r.mask > 0.5].mean() > 3  # (small: the source is this very face, colour-matched)


def test_same_seed_same_swap(pair):
    src, src_lm, tgt, tgt_lm, _ = pair
    a = face_swap(src, src_lm, tgt, tgt_lm, np.random.default_rng(3))
    b = face_swap(src, src_lm, tgt, tgt_lm, np.random.default_rng(3))
    assert np.array_equal(a.fake, b.fake) and np.array_equal(a.mask, b.mask)
    assert any(
        not np.array_equal(a.fake, face_swap(src, src_lm, tgt, tgt_lm, np.random.default_rng(s)).fake)
        for s in (4, 5)
    )


def test_warp_puts_source_pixels_on_target_landmarks(pair):
    src, src_lm, _, tgt_lm, moved = pair
    warped = warp_face(src, src_lm, tgt_lm, moved.shape[:2])
    hull = hull_mask(moved.shape[:2], tgt_lm, "full") > 0
    err = np.abs(warped.astype(int) - moved.astype(int))[hull].mean()
    assert err < 2.5  # the piecewise-affine warp reproduces the moved face inside the hull
    assert np.abs(src.astype(int) - moved.astype(int))[hull].mean() > 4 * err  # (unwarped it would not)


def test_face_takes_source_colours_unless_transferred(pair):
    src, src_lm, tgt, tgt_lm, moved = pair
    cfg = FaceSwapConfig(
        blends=("feather",), colours=("none",), hull_variants=("full",), feather=(0.05, 0.05)
    )
    raw = face_swap(src, src_lm, tgt, tgt_lm, np.random.default_rng(0), cfg)
    inside = raw.mask > 0.99
    mean = lambda img: img[inside].astype(np.float32).mean(0)  # noqa: E731
    # without colour transfer the face region moves to the source's colours (the tint goes away) ...
    assert np.abs(mean(raw.fake) - mean(moved)).max() < 3
    assert np.abs(mean(raw.fake) - mean(tgt)).max() > 20
    # ... Reinhard's transfer keeps the target's colour statistics while the face is the source's
    matched = colour_transfer(warp_face(src, src_lm, tgt_lm, tgt.shape[:2]), tgt, raw.mask, "reinhard")
    assert np.abs(mean(matched) - mean(tgt)).max() < 5  # matched in LAB, so near (not exactly) in RGB
