"""The demo forgeries scripts/make_demo_inputs.py writes: what is committed in demo/ decodes as claimed,
changes the photo only where each forgery acts, and is what the (seeded) script makes."""

from __future__ import annotations

import importlib.util

import av
import cv2
import numpy as np
import pytest

from conftest import DEMO, ROOT
from fakelens.faces.align import transform_points
from fakelens.faces.landmarks import landmarks68
from fakelens.media.video import probe_video

CLIPS = ("lipsync", "animated")
CODEC = 14.0  # H.264 (CRF 23) error on the still photo after a 7 px box blur: the pan clip reaches ~11
FLICKER = 5.0  # frame-to-frame change x264 leaves on still textured areas (suit, flag): up to ~3.3
KERNEL = np.ones((3, 3), np.uint8)


@pytest.fixture(scope="module")
def script():
    pytest.importorskip("skimage")
    spec = importlib.util.spec_from_file_location(
        "make_demo_inputs", ROOT / "scripts" / "make_demo_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference(script, astronaut):
    """The photo cut to the still clips' window, as float32."""
    return script.window(astronaut, script.STILL_X).astype(np.float32)


@pytest.fixture(scope="module")
def regions(script, face_pipeline, astronaut):
    """Window-sized masks of where each forgery may act, from the photo's own face: the aligned crop's
    footprint (animate) and the jaw-and-nose-bottom hull cut at the nostrils (lip-sync), each grown by
    6 px for the codec's blocks and the blur; and the mouth's hull."""
    face = face_pipeline.extract(astronaut)[0]
    inv = cv2.invertAffineTransform(face.matrix)
    offset = np.array([script.STILL_X, script.TOP])
    lm = transform_points(landmarks68(face.crop, face_pipeline.config.crop), inv) - offset
    side = face.crop.shape[0] - 1
    corners = transform_points(np.array([[0, 0], [side, 0], [side, side], [0, side]], float), inv) - offset

    def hull(points: np.ndarray) -> np.ndarray:
        out = np.zeros((script.SIZE, script.SIZE), np.uint8)
        cv2.fillConvexPoly(out, cv2.convexHull(np.round(points).astype(np.int32)), 1)
        return out

    lower = hull(np.concatenate([lm[0:17], lm[31:36]]))
    lower[: int(lm[31:36, 1].min())] = 0
    return {
        "animated": cv2.dilate(hull(corners), KERNEL, iterations=6) > 0,
        "lipsync": cv2.dilate(lower, KERNEL, iterations=6) > 0,
        "mouth": hull(lm[48:60]) > 0,
    }


@pytest.fixture(scope="module")
def clips():
    out = {}
    for name in CLIPS:
        with av.open(str(DEMO / f"astronaut-{name}.mp4")) as container:
            out[name] = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return out


def _blurred_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.blur(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(2), (7, 7))


@pytest.mark.parametrize("name", CLIPS)
def test_clip_decodes_as_claimed(name, clips):
    path = DEMO / f"astronaut-{name}.mp4"
    info = probe_video(path)
    assert (info.frames, info.fps, info.width, info.height) == (75, 25, 384, 384)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert clips[name].shape == (75, 384, 384, 3)
    assert path.stat().st_size < 300_000


@pytest.mark.parametrize("name", CLIPS)
def test_clip_differs_from_the_photo_only_where_the_forgery_acts(name, clips, reference, regions):
    region = regions[name]
    first = clips[name][0]
    moved = np.zeros(region.shape, np.float32)
    for frame in clips[name]:
        off_photo = _blurred_diff(frame, reference)
        assert off_photo[~region].max() < CODEC  # outside: the photo, up to the codec's error
        moved = np.maximum(moved, _blurred_diff(frame, first))
    assert moved[~region].max() < FLICKER  # outside nothing moves: every frame has the same pixels there
    assert moved[regions["mouth"]].mean() > 6  # inside the mouth does
    changed = np.stack([_blurred_diff(f, reference) for f in clips[name][::5]]).max(0)
    assert changed[region].max() > 2 * CODEC  # and the forgery changed the face beyond codec noise


def test_the_lipsync_mouth_opens_and_closes(clips, regions):
    frames = clips["lipsync"]
    motion = np.array([_blurred_diff(f, frames[0])[regions["mouth"]].mean() for f in frames])
    peak = int(motion.argmax())
    assert motion[peak] > 6
    assert motion[peak:].min() < motion[peak] / 3  # it closes again after opening
    assert (np.diff(motion) > 0).sum() >= 3 and (np.diff(motion) < 0).sum() >= 3  # more than one syllable


@pytest.mark.parametrize("name", CLIPS)
def test_committed_clip_is_what_the_seeded_script_makes(name, script, astronaut, clips):
    face, lm = script.face_of(astronaut)
    make = getattr(script, f"{name}_frames")
    a = [script.window(f, script.STILL_X) for f in make(astronaut, face, lm, n=3)]
    b = [script.window(f, script.STILL_X) for f in make(astronaut, face, lm, n=3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    for made, committed in zip(a, clips[name][:3], strict=True):
        assert _blurred_diff(made, committed).max() < CODEC
