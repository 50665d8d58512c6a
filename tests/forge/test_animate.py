from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import AnimateConfig, animate_still
from fakelens.forge.animate import transfer_motion

FIXED = AnimateConfig(gain=(1.0, 1.0), max_shift=0.3)
DRIVER_SCALE = 1.3  # the driving face is 1.3x the source's: its motion must be scaled down by as much


@pytest.fixture(scope="module")
def face(face_pipeline, astronaut):
    crop = face_pipeline.extract(astronaut)[0].crop
    return crop, landmarks68(crop, face_pipeline.config.crop)


def _open_mouth(lm: np.ndarray, amount: float, jaw: bool = True) -> np.ndarray:
    """A smooth mouth opening: points below the mouth corners move down (up to ``amount`` px at the
    chin) and the corners widen; with ``jaw=False`` only the 20 mouth points move."""
    out = lm.copy()
    idx = np.r_[0:17, 48:68] if jaw else np.r_[48:68]
    top, chin = lm[[48, 54], 1].mean() - 3, lm[8, 1]
    out[idx, 1] += amount * np.clip((lm[idx, 1] - top) / (chin - top), 0, 1)
    mouth_c = lm[48:68, 0].mean()
    out[48:68, 0] += 0.3 * amount * (lm[48:68, 0] - mouth_c) / np.ptp(lm[48:68, 0])
    return out


def _driving(lm: np.ndarray, steps: int = 5, jaw: bool = True) -> list[np.ndarray]:
    """Another face (the source's shape, 1.3x larger, elsewhere in its crop) opening its mouth."""
    first = lm * DRIVER_SCALE - 20
    return [_open_mouth(first, 4.0 * DRIVER_SCALE * t, jaw) for t in range(steps)]


def test_frame_zero_is_the_source(face):
    crop, lm = face
    frames = animate_still(crop, lm, _driving(lm), np.random.default_rng(0))
    assert len(frames) == 5 and frames[0].target is crop
    assert np.array_equal(frames[0].fake, crop) and not frames[0].mask.any()
    assert np.allclose(frames[0].landmarks, lm)
    for f in frames[1:]:
        assert f.fake.dtype == np.uint8 and f.mask.dtype == np.float32 and f.mask.max() == 1
        diff = np.abs(f.fake.astype(int) - crop.astype(int)).max(axis=2)
        assert diff[f.mask == 0].max() == 0  # the mask covers every pixel the warp changed


def test_landmarks_follow_the_driving_motion(face):
    crop, lm = face
    driving = _driving(lm)
    expected = [lm + (d - driving[0]) / DRIVER_SCALE for d in driving]  # relative motion, rescaled
    frames = animate_still(crop, lm, driving, np.random.default_rng(0), FIXED)
    for f, e in zip(frames, expected, strict=True):
        assert np.abs(f.landmarks - e).max() < 1e-3
    assert np.abs(expected[-1] - lm).max() > 10  # a real motion (16 px at the chin, scaled down)
    # the pixels follow too: a dot drawn at a source landmark is found where its landmark moved
    for k in (48, 54, 57, 66):  # (the chin leaves the crop)
        dot = np.zeros_like(crop)
        cv2.circle(dot, tuple(int(v) for v in np.round(lm[k])), 2, (255, 255, 255), -1)
        dot = cv2.GaussianBlur(dot, (0, 0), 1.0)
        drawn = np.array(np.round(lm[k]), np.float32)  # the dot's own centre (landmarks are integers)
        for f, e in zip(
            animate_still(dot, lm, driving, np.random.default_rng(0), FIXED), expected, strict=True
        ):
            x0, y0 = (int(v) for v in np.round(e[k] - 8))
            win = f.fake[max(y0, 0) : y0 + 17, max(x0, 0) : x0 + 17, 0].astype(np.float64)
            ys, xs = np.mgrid[max(y0, 0) : y0 + 17, max(x0, 0) : x0 + 17][:, : win.shape[0], : win.shape[1]]
            centre = np.array([(xs * win).sum(), (ys * win).sum()]) / win.sum()
            assert np.abs(centre - (e[k] + drawn - lm[k])).max() < 1.0, (k, centre, e[k])


def test_texture_stays_frozen_away_from_the_mouth(face):
    crop, lm = face
    frames = animate_still(crop, lm, _driving(lm, jaw=False), np.random.default_rng(3))
    upper = np.zeros(crop.shape[:2], bool)
    upper[: int(lm[36:48, 1].max())] = True  # above the lowest eyelid point
    yy, xx = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]]
    far = np.hypot(xx - lm[48:68, 0].mean(), yy - lm[48:68, 1].mean()) > 0.6 * np.ptp(lm[:, 0])
    mouth = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(lm[48:60]).astype(np.int32)), 1)
    for f in frames[1:]:
        diff = np.abs(f.fake.astype(int) - crop.astype(int)).max(axis=2)
        assert diff[upper | far].max() == 0  # frozen: the source's own pixels
        assert diff[mouth > 0].mean() > 5  # while the mouth moves
        assert not f.mask[upper].any()


def test_a_folding_motion_is_pulled_back(face):
    """Driving the lower lip far above the upper one would fold the mesh: the motion is scaled
    down until it does not, so the lips keep their order."""
    crop, lm = face
    driving = [lm.copy(), lm.copy()]
    driving[1][np.r_[55:60, 64:68], 1] -= 60
    f = animate_still(crop, lm, driving, np.random.default_rng(0), AnimateConfig(gain=(1, 1), max_shift=1.0))[
        1
    ]
    assert f.landmarks[57, 1] > f.landmarks[51, 1] and f.landmarks[66, 1] >= f.landmarks[62, 1] - 1
    assert f.landmarks[57, 1] < lm[57, 1]  # it still moved up, part of the way


def test_motion_is_clamped_and_seeded(face):
    crop, lm = face
    driving = _driving(lm)
    far = transfer_motion(lm, driving, gain=3.0, max_shift=0.05)
    assert max(np.linalg.norm(x - lm, axis=1).max() for x in far) <= 0.05 * np.ptp(lm[:, 0]) + 1e-3
    a, b, c = (animate_still(crop, lm, driving[:3], np.random.default_rng(s)) for s in (7, 7, 8))
    assert all(
        np.array_equal(x.fake, y.fake) and np.array_equal(x.mask, y.mask) for x, y in zip(a, b, strict=True)
    )
    assert not np.array_equal(a[2].fake, c[2].fake)
    with pytest.raises(ValueError, match="68, 2"):
        animate_still(crop, lm, [lm[:10]], np.random.default_rng(0))


def test_an_animated_portrait_is_a_coded_clip_of_the_crop_s_size_fixed_by_its_seed(face):
    from fakelens.forge import PortraitConfig, animate_portrait

    crop, lm = face
    drive = _driving(lm)
    cfg = PortraitConfig(sizes=(256,), crf=(30, 30), animate=FIXED)
    frames = animate_portrait(crop, lm, drive, np.random.default_rng(3), cfg)
    again = animate_portrait(crop, lm, drive, np.random.default_rng(3), cfg)
    assert len(frames) == len(drive) and all(f.shape == crop.shape and f.dtype == np.uint8 for f in frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    moved = [f.fake for f in animate_still(crop, lm, drive, np.random.default_rng(3), FIXED)]
    # the warp is kept (the mouth opens: the last frame stays nearer the last warped frame than the
    # first) and the clip is coded (no frame equals the warp's)
    err = lambda a, b: float(np.abs(a.astype(float) - b.astype(float)).mean())  # noqa: E731
    assert err(frames[-1], moved[-1]) < err(frames[-1], moved[0])
    assert all(err(f, m) > 0.3 for f, m in zip(frames, moved, strict=True))
    assert err(frames[0], crop) < 6  # frame 0 is the portrait itself, through the codec
