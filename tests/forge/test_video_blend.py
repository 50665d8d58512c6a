from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import blend_video
from fakelens.forge.masks import hull_mask
from fakelens.forge.video_blend import drift_schedule

T = 12


@pytest.fixture(scope="module")
def clip(face_pipeline, astronaut):
    """A still 'video' panning 1 px per frame: what changes between fakes is the drifting warp."""
    crop = face_pipeline.extract(astronaut)[0].crop
    lm = landmarks68(crop, face_pipeline.config.crop)
    h, w = crop.shape[:2]
    frames, lms = [], []
    for t in range(T):
        m = np.array([[1, 0, t - T / 2], [0, 1, 0]], np.float32)
        frames.append(cv2.warpAffine(crop, m, (w, h), borderMode=cv2.BORDER_REFLECT))
        lms.append(lm + m[:, 2])
    return np.stack(frames), np.stack(lms).astype(np.float32)


def test_every_frame_is_blended_inside_its_own_face_mask(clip):
    frames, lms = clip
    r = blend_video(frames, lms, np.random.default_rng(0))
    assert r.fakes.shape == frames.shape and r.fakes.dtype == np.uint8
    assert r.masks.shape == frames.shape[:3] and r.masks.dtype == np.float32 and r.masks.max() <= 1
    for t in range(T):
        m = r.masks[t]
        assert m.max() > 0.2  # never empty
        hull = hull_mask(m.shape, lms[t], "extended") > 0
        core = m > 0.5 * m.max()
        assert 0.03 < core.mean() < 0.6 and (core & hull).sum() > 0.9 * core.sum()  # on this frame's face
        diff = np.abs(r.fakes[t].astype(int) - frames[t].astype(int)).max(axis=2)
        assert diff[m < 1e-3].max() <= 1  # outside the mask: the original frame
        assert diff[core].mean() > 1  # inside: the warped copy shows


def test_warp_drifts_slowly_and_smoothly(clip):
    frames, lms = clip
    r = blend_video(frames, lms, np.random.default_rng(2))
    # compare the fakes against their own frames: the blended-in warp is what drifts
    residual = r.fakes.astype(np.float32) - frames.astype(np.float32)
    steps = [np.abs(residual[t + 1] - residual[t]).mean() for t in range(T - 1)]
    span = np.abs(residual[-1] - residual[0]).mean()
    assert max(steps) < 0.5 * span  # frame-to-frame change small next to the whole clip's drift
    p = r.params
    assert np.abs(np.diff(p, axis=0)).max(axis=0).max() < np.abs(p[-1] - p[0]).max()
    assert np.all(np.sign(p[0]) == -np.sign(p[-1]))  # each parameter crosses its range


def test_schedule_is_seeded_and_smooth():
    a, b = drift_schedule(20, np.random.default_rng(1), 3), drift_schedule(20, np.random.default_rng(1), 3)
    c = drift_schedule(20, np.random.default_rng(2), 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and a.shape == (20, 10)
    second = np.abs(np.diff(a, 2, axis=0)).max(axis=0)
    assert np.all(second < 0.2 * np.abs(a).max(axis=0) + 1e-9)  # no jumps: bounded second difference


def test_same_seed_same_clip(clip):
    frames, lms = clip
    a = blend_video(frames[:4], lms[:4], np.random.default_rng(5))
    b = blend_video(frames[:4], lms[:4], np.random.default_rng(5))
    c = blend_video(frames[:4], lms[:4], np.random.default_rng(6))
    assert np.array_equal(a.fakes, b.fakes) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.fakes, c.fakes)
    with pytest.raises(ValueError):
        blend_video(frames, lms[:2], np.random.default_rng(0))
