"""Build the demo inputs shipped in demo/ (all free to redistribute).

- astronaut.png: scikit-image's public-domain NASA portrait of Eileen Collins.
- astronaut-sbi.png: the same photo with its face self-blended by fakelens.forge.sbi (first seed from 3
  with blend ratio 1), pasted back into the full photo: a training-style forgery whose answer we know.
- astronaut-pan.mp4: a 3 s, 25 fps H.264 clip panning over the photo, to demo video scanning.
- astronaut-lipsync.mp4: 3 s, 25 fps, the pan's middle framing held still: every frame's mouth and jaw
  redrawn by fakelens.forge.lower_face_resynthesis from the photo with its mouth warped open (seed 5).
- astronaut-animated.mp4: 3 s, 25 fps, same framing: the photo animated by fakelens.forge.animate_still
  along a synthetic track of its own landmarks (gentle nod, turn, roll and mouth opening; seed 7).

Forgeries are made in the aligned face crop and pasted back by fakelens.forge.paste_crop; everything is
seeded, so a rerun rewrites the same bytes.

Run: .venv/bin/python scripts/make_demo_inputs.py  (needs the dev extra for scikit-image)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from fakelens.faces import FacePipeline
from fakelens.faces.landmarks import landmarks68
from fakelens.forge import (
    AnimateConfig,
    LowerFaceConfig,
    animate_still,
    lower_face_resynthesis,
    paste_crop,
    self_blend_photo,
)

OUT = Path(__file__).resolve().parents[1] / "demo"
SIZE, TOP, FPS, FRAMES = 384, 40, 25, 75  # clip side, window top row, frame rate, 3 s of frames
STILL_X = 44  # window left column of the still clips: the pan's middle, the whole face crop inside
LOWER_LIP = [56, 57, 58, 65, 66, 67]  # bottom-lip middle (outer and inner contour)
# Wav2Lip-like and the same every frame: one 96 px generator, no filter, one colour transfer, one feather
LIPSYNC = LowerFaceConfig(low_res=(96, 96), filters=("none",), colours=("reinhard",), feather=(0.1, 0.1))


def sbi_photo(image: np.ndarray, seed: int = 3) -> np.ndarray:
    """Self-blend the face; take the first seed from ``seed`` whose blend ratio is 1 (a clear forgery)."""
    pipe = FacePipeline()
    while True:
        result = self_blend_photo(image, pipe, np.random.default_rng(seed))
        if result.mask.max() > 0.99:
            return result.fake
        seed += 1


def window(image: np.ndarray, x: int) -> np.ndarray:
    return np.ascontiguousarray(image[TOP : TOP + SIZE, x : x + SIZE])


def write_clip(frames: Iterable[np.ndarray], path: Path, fps: int = FPS) -> None:
    """H.264 (CRF 23) clip of SIZE x SIZE RGB frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.options = {"crf": "23", "preset": "medium"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def pan_clip(image: np.ndarray, path: Path, seconds: float = 3.0, fps: int = FPS) -> None:
    w, n = image.shape[1], int(seconds * fps)
    xs = [int((w - SIZE) * (0.2 + 0.3 * i / max(n - 1, 1))) for i in range(n)]
    write_clip((window(image, x) for x in xs), path, fps)


def face_of(image: np.ndarray):
    """The photo's aligned face and its (68, 2) landmarks in crop pixels."""
    pipe = FacePipeline()
    face = pipe.extract(image)[0]
    return face, landmarks68(face.crop, pipe.config.crop).astype(np.float32)


def face_track(lm: np.ndarray, n: int, nod=0.0, turn=0.0, roll=0.0, mouth=0.0) -> list[np.ndarray]:
    """``n`` smooth landmark sets: ``lm`` nodded (down), turned (sideways, the nose leading), rolled
    (degrees) and its mouth opened (bottom lip and chin down), amplitudes in face sizes; frame 0 is ``lm``.
    The mouth opens and closes 2.5 times a second, a syllable rate, louder and softer over the clip."""
    size, centre = float(np.ptp(lm, 0).max()), lm.mean(0)
    depth = np.full(68, 0.7)
    depth[27:36] = 1.0  # the nose is nearer the camera: it moves furthest in a turn
    drop = np.zeros(68)
    drop[LOWER_LIP], drop[[55, 59]], drop[[48, 54, 60, 64]], drop[6:11] = 1.0, 0.7, 0.3, 0.4
    out = []
    for t in np.arange(n) / FPS:
        a = np.deg2rad(roll * np.sin(2 * np.pi * 0.5 * t))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        p = (lm - centre) @ rot.T + centre
        p[:, 0] += turn * size * np.sin(2 * np.pi * 0.4 * t) * depth
        p[:, 1] += nod * size * np.sin(np.pi * 0.8 * t) ** 2
        opening = np.sin(np.pi * 2.5 * t) ** 2 * (0.7 + 0.3 * np.sin(2 * np.pi * 0.6 * t))
        p[:, 1] += mouth * size * opening * drop
        out.append(p.astype(np.float32))
    return out


def lipsync_frames(image: np.ndarray, face, lm: np.ndarray, n: int = FRAMES, seed: int = 5) -> Iterator:
    """The photo with each frame's lower face redrawn from the crop warped to a talking mouth."""
    rng = np.random.default_rng(seed)
    mouths = animate_still(face.crop, lm, face_track(lm, n, mouth=0.08), rng, AnimateConfig(gain=(1, 1)))
    for m in mouths:
        r = lower_face_resynthesis(face.crop, lm, m.fake, m.landmarks, rng, LIPSYNC)
        yield paste_crop(image, r.fake, r.mask, face.matrix)[0]


def animated_frames(image: np.ndarray, face, lm: np.ndarray, n: int = FRAMES, seed: int = 7) -> Iterator:
    """The photo animated along a gentle head-and-mouth track, faded out towards the crop's edge (the
    mesh moves the whole crop a little: a hard edge would be a seam)."""
    track = face_track(lm, n, nod=0.03, turn=0.03, roll=2.0, mouth=0.04)
    side = face.crop.shape[0]
    ramp = np.clip(np.minimum(np.arange(side), side - 1 - np.arange(side)) / (0.1 * side), 0, 1)
    fade = np.minimum.outer(ramp, ramp).astype(np.float32)
    for f in animate_still(face.crop, lm, track, np.random.default_rng(seed)):
        yield paste_crop(image, f.fake, f.mask * fade, face.matrix)[0]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    image = data.astronaut()
    cv2.imwrite(str(OUT / "astronaut.png"), image[..., ::-1])
    cv2.imwrite(str(OUT / "astronaut-sbi.png"), sbi_photo(image)[..., ::-1])
    pan_clip(image, OUT / "astronaut-pan.mp4")
    face, lm = face_of(image)
    for name, frames in (("lipsync", lipsync_frames), ("animated", animated_frames)):
        write_clip((window(f, STILL_X) for f in frames(image, face, lm)), OUT / f"astronaut-{name}.mp4")
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
