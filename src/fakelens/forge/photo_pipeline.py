"""One processing pipeline for every class of still image before a detector sees it in training.

Real photos in the shared data are almost all JPEG (UTKFace q75, LFW q95) and generated faces mostly
PNG: a detector can learn the container instead of the generator. Every face, real or fake, is put
through the same random chain a photo meets between camera and upload: half the time a capture JPEG
(quality 50-100), a re-framing crop (which also moves the 8x8 JPEG grid), a resize by 0.5-1.5x with
one of several kernels, JPEG at quality 50-100 (sometimes twice, as a re-shared photo is), then back
to the crop size the model reads (as the scanner's face alignment warps any upload to it). A PNG is
treated like any other input: it is JPEG-coded too. The capture JPEG matters: without it a photo
that was a q75 JPEG keeps, after the chain, less fine detail than a PNG put through it (a
DCT-statistics classifier still told them apart at AUC 0.63 on synthetic pictures; with it 0.55,
``tests/forge/test_photo_pipeline.py``).

``video_share`` codes that share of images as a video frame instead: H.264 (CRF 18-40) at the size
it comes in, as the stream a frame is taken from, then re-framed, resized and H.264-coded again, no
JPEG. When real video frames train beside generated photos, H.264's look (4x4 transforms,
deblocking, 4:2:0 chroma) is otherwise a "real" cue, and a talking head, H.264 video too, reads as
real.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.perturb import jpeg, perturb_video_frames

KERNELS = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def _h264(img: np.ndarray, crf: int) -> np.ndarray:
    """One frame as an intra-coded H.264 picture (libx264, 4:2:0) and back."""
    return perturb_video_frames([img], crf, preset="veryfast", tune="zerolatency", threads=1)[0]


@dataclass(frozen=True)
class PhotoPipeline:
    """Random re-framing, resize and JPEG for real and fake alike (issue 12, item 1)."""

    scale: tuple[float, float] = (0.5, 1.5)  # resize factor, drawn log-uniformly
    quality: tuple[int, int] = (50, 100)  # JPEG quality, inclusive
    capture_jpeg: float = 0.5  # share of images JPEG-coded first, before re-framing (a camera's JPEG)
    double_jpeg: float = 0.3  # share of images JPEG-coded a second time (at another quality)
    max_trim: float = 0.06  # up to this share of each side cut off (re-framing; moves the JPEG grid)
    video_share: float = 0.0  # share of images coded as an H.264 video frame instead of JPEG
    crf: tuple[int, int] = (18, 40)  # libx264 CRF for those, inclusive

    def draw(self, rng: np.random.Generator) -> dict:
        """One set of parameters: apply it to several images to process them identically."""
        lo, hi = np.log(self.scale[0]), np.log(self.scale[1])

        def quality() -> int:
            return int(rng.integers(self.quality[0], self.quality[1] + 1))

        capture = quality() if rng.random() < self.capture_jpeg else None
        qualities = [quality()]
        if rng.random() < self.double_jpeg:
            qualities.append(quality())
        crfs = None  # no draw at video_share 0: the JPEG-only chain stays what it was
        if self.video_share > 0 and rng.random() < self.video_share:
            crfs = tuple(int(v) for v in rng.integers(self.crf[0], self.crf[1] + 1, 2))  # stream, re-encode
            capture, qualities = None, []
        return {
            "capture_quality": capture,
            "trim": tuple(float(v) for v in rng.uniform(0, self.max_trim, 4)),  # top, bottom, left, right
            "scale": float(np.exp(rng.uniform(lo, hi))),
            "down_kernel": str(rng.choice(list(KERNELS))),
            "back_kernel": str(rng.choice(["area", "linear", "cubic"])),
            "qualities": qualities,
            "crfs": crfs,
        }

    def apply(self, img: np.ndarray, params: dict) -> np.ndarray:
        h, w = img.shape[:2]
        crfs = params.get("crfs")
        if params["capture_quality"] is not None:
            img = jpeg(img, params["capture_quality"])
        if crfs is not None:
            img = _h264(img, crfs[0])
        top, bottom, left, right = params["trim"]
        y0, y1 = round(top * h), h - round(bottom * h)
        x0, x1 = round(left * w), w - round(right * w)
        out = img[y0:y1, x0:x1]
        f = params["scale"]
        size = (max(round(out.shape[1] * f), 8), max(round(out.shape[0] * f), 8))
        out = cv2.resize(out, size, interpolation=KERNELS[params["down_kernel"]])
        for q in params["qualities"]:
            out = jpeg(out, q)
        if crfs is not None:
            out = _h264(out, crfs[1])
        return np.ascontiguousarray(cv2.resize(out, (w, h), interpolation=KERNELS[params["back_kernel"]]))

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.apply(img, self.draw(rng))
