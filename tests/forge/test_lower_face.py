from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import LowerFaceConfig, lower_face_resynthesis
from fakelens.forge.faceswap import warp_face
from fakelens.forge.lower_face import align_similarity, alignment_residual, lower_face_mask
from fakelens.forge.masks import hull_mask


@pytest.fixture(scope="module")
def face(face_pipeline, astronaut):
    crop = face_pipeline.extract(astronaut)[0].crop
    return crop, landmarks68(crop, face_pipeline.config.crop)


@pytest.fixture(scope="module")
def other_frame(face):
    """Frame B of the 'same clip': the mouth and chin of frame A pulled 8 px down (an open mouth)."""
    crop, lm = face
    lm_b = lm.copy()
    lm_b[np.r_[5:12, 55:60, 64:68], 1] += 8
    return warp_face(crop, lm, lm_b, crop.shape[:2]), lm_b


def _hf_energy(img: np.ndarray, region: np.ndarray) -> float:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.Laplacian(gray, cv2.CV_32F)[region] ** 2).mean())


def test_only_the_lower_face_changes(face, other_frame):
    crop, lm = face
    b, lm_b = other_frame
    nostrils = int(np.ceil(lm[31:36, 1].min()))
    hull = hull_mask(crop.shape[:2], lm, "lower") > 0
    for seed in range(6):
        r = lower_face_resynthesis(crop, lm, b, lm_b, np.random.default_rng(seed))
        assert r.fake.shape == crop.shape and r.fake.dtype == np.uint8 and r.target is crop
        assert r.mask.dtype == np.float32 and 0 <= r.mask.min() and r.mask.max() == pytest.approx(1)
        diff = np.abs(r.fake.astype(int) - crop.astype(int)).max(axis=2)
        assert diff[r.mask == 0].max() == 0  # outside the mask: frame A, exactly
        assert not r.mask[:nostrils].any()  # zero above the nose
        assert not (r.mask > 0)[~hull].any()  # inside the jaw/nose hull only
        changed = np.nonzero(diff)
        assert changed[0].min() >= nostrils and hull[changed].all()
        assert diff[r.mask > 0.99].mean() > 3  # and it does change there


def test_the_mouth_comes_from_the_other_frame(face, other_frame):
    crop, lm = face
    b, lm_b = other_frame
    r = lower_face_resynthesis(crop, lm, b, lm_b, np.random.default_rng(1))
    mouth = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(lm_b[48:60]).astype(np.int32)), 1)
    core = (mouth > 0) & (r.mask > 0.99)
    to_b = np.abs(r.fake.astype(int) - b.astype(int))[core].mean()
    to_a = np.abs(r.fake.astype(int) - crop.astype(int))[core].mean()
    assert to_b < 0.5 * to_a  # B's open mouth, not A's


def test_frame_b_is_aligned_to_frame_a(face):
    """B = A seen with another head pose (rotated, scaled, shifted): after alignment, B's lower face
    lands on A's, so the fake stays close to A; the unaligned B does not."""
    crop, lm = face
    h, w = crop.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.06)
    m[:, 2] += (5, -4)
    b = cv2.warpAffine(crop, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    lm_b = (lm @ m[:, :2].T + m[:, 2]).astype(np.float32)
    back = align_similarity(lm_b, lm)
    assert np.abs(back @ np.r_[m, [[0, 0, 1]]] - np.eye(2, 3)).max() < 1e-3  # undoes the head motion
    assert alignment_residual(lm_b, lm) < 1e-3  # a pose a similarity reconciles (synth pairs these)
    turned = lm.copy()
    turned[:, 0] = lm[30, 0] + (lm[:, 0] - lm[30, 0]) * np.where(lm[:, 0] > lm[30, 0], 0.8, 1.1)
    assert alignment_residual(turned, lm) > 0.03  # a turned head is not (synth pairs the frame with itself)
    cfg = LowerFaceConfig(filters=("none",), colours=("none",))
    r = lower_face_resynthesis(crop, lm, b, lm_b, np.random.default_rng(0), cfg)
    core = r.mask > 0.99
    aligned = np.abs(r.fake.astype(int) - crop.astype(int))[core].mean()
    unaligned = np.abs(b.astype(int) - crop.astype(int))[core].mean()
    assert aligned < 0.3 * unaligned


@pytest.mark.parametrize("filters", [("blur", "sharpen", "none"), ("sharpen",)])
def test_low_resolution_path_removes_high_frequencies_even_when_b_is_a(face, filters):
    crop, lm = face
    cfg = LowerFaceConfig(filters=filters)
    for seed in range(8):
        r = lower_face_resynthesis(crop, lm, crop, lm, np.random.default_rng(seed), cfg)
        core = r.mask > 0.99
        assert core.sum() > 1000
        assert not np.array_equal(r.fake, crop)  # B == A still leaves the artefact
        assert _hf_energy(r.fake, core) < 0.85 * _hf_energy(crop, core)


def test_same_seed_same_forgery(face, other_frame):
    crop, lm = face
    b, lm_b = other_frame
    x, y, z = (lower_face_resynthesis(crop, lm, b, lm_b, np.random.default_rng(s)) for s in (4, 4, 5))
    assert np.array_equal(x.fake, y.fake) and np.array_equal(x.mask, y.mask)
    assert not np.array_equal(x.fake, z.fake)
    with pytest.raises(ValueError, match="equal-size"):
        lower_face_resynthesis(crop, lm, b[:100], lm_b, np.random.default_rng(0))


def test_mask_is_feathered_and_empty_off_the_image(face):
    crop, lm = face
    m = lower_face_mask(crop.shape[:2], lm, 0.1)
    assert 0 < ((m > 0) & (m < 1)).sum() and (m == 1).any()  # a soft ramp and a solid core
    assert not lower_face_mask(crop.shape[:2], lm + 1000, 0.1).any()
