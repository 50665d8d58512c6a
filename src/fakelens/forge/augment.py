"""Post-forgery augmentations applied identically to a real face and its fake, so that only the
forgery differs between them (as SBI does with albumentations' ``additional_targets``).

They imitate what happens to faces in the wild, in camera-pipeline order: exposure (brightness,
contrast, low-light gamma), optics and resolution (blur, down-up scaling), sensor noise, then
JPEG/video compression. A detector must learn that none of these, alone, means "fake".

Kinds: ``camera`` (photos: JPEG last), ``flip`` (mirroring only) and ``video`` (:class:`VideoAugment`:
a face as a video platform delivers it, H.264-coded at the resolution it was streamed at).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.perturb import jpeg, perturb_video_frames

KINDS = ("camera", "flip", "video")


def _draw(rng: np.random.Generator) -> dict:
    """One set of augmentation parameters (None = off)."""
    p = rng.random(7)
    return {
        "flip": p[0] < 0.5,
        "bc": (1 + rng.uniform(-0.2, 0.2), rng.uniform(-0.15, 0.15) * 255) if p[1] < 0.3 else None,
        "gamma": float(np.exp(rng.uniform(np.log(0.7), np.log(2.5)))) if p[2] < 0.3 else None,
        "blur": rng.uniform(0.5, 1.5) if p[3] < 0.15 else None,
        "down": rng.uniform(0.3, 0.8) if p[4] < 0.4 else None,
        "noise": (rng.uniform(2, 8), int(rng.integers(2**31))) if p[5] < 0.15 else None,
        "quality": int(rng.integers(30, 96)) if p[6] < 0.6 else None,
    }


def _exposure(img: np.ndarray, bc, gamma) -> np.ndarray:
    x = img.astype(np.float32)
    if bc is not None:
        x = x * bc[0] + bc[1]
    if gamma is not None:  # > 1 darkens: under-exposed indoor video
        x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** gamma
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _scale(img: np.ndarray, f: float) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)


def _noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise from its own seed: every image of a pair gets the very same noise."""
    noise = np.random.default_rng(seed).normal(0, sigma, img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + noise + 0.5, 0, 255).astype(np.uint8)


def _apply(img: np.ndarray, a: dict) -> np.ndarray:
    if a["flip"]:
        img = img[:, ::-1]
    img = _exposure(img, a["bc"], a["gamma"])
    if a["blur"] is not None:
        img = cv2.GaussianBlur(img, (0, 0), a["blur"])
    if a["down"] is not None:
        h, w = img.shape[:2]
        img = cv2.resize(_scale(img, a["down"]), (w, h), interpolation=cv2.INTER_LINEAR)
    if a["noise"] is not None:
        img = _noise(img, *a["noise"])
    if a["quality"] is not None:
        img = jpeg(img, a["quality"])
    return np.ascontiguousarray(img)


@dataclass(frozen=True)
class VideoAugment:
    """Probability (``p_*``) and range of each step of the ``video`` kind; ranges are inclusive.

    Order: flip, exposure, low light, blur, sensor noise (at capture resolution), downscale, H.264
    (at the downscaled size, as a platform streams a smaller rendition), upscale back, JPEG (a frame
    grabbed and saved). An H.264 step codes the face as an intra frame, or with ``p_inter`` as a
    P-frame predicted from a copy moved by up to ``motion`` of its side (head motion between frames):
    most faces in a real stream are P/B-coded. Each image is its own clip with the same CRF, preset
    and motion: in one clip of the pair the fake would be coded from its real (a P-frame) or, all
    intra, under rate control carried over from it. ``tune=zerolatency`` (no look-ahead) and one
    thread keep the output a function of the image and the draw alone, whatever the core count."""

    p_flip: float = 0.5
    p_exposure: float = 0.3
    gain: float = 0.2  # contrast 1 +- gain, brightness +- offset * 255
    offset: float = 0.15
    p_low_light: float = 0.2
    gamma: tuple[float, float] = (0.7, 2.5)
    p_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.4, 1.5)
    p_noise: float = 0.25
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    p_down: float = 0.4
    down: tuple[float, float] = (0.35, 0.8)
    p_h264: float = 0.7
    crf: tuple[int, int] = (18, 40)
    presets: tuple[str, ...] = ("ultrafast", "veryfast", "medium")  # ultrafast: no deblocking (webcams)
    p_inter: float = 0.5
    motion: float = 0.015
    p_jpeg: float = 0.2
    quality: tuple[int, int] = (40, 95)

    def draw(self, rng: np.random.Generator) -> dict:
        """One set of parameters (None = step off), shared by every image of an item."""
        p = rng.random(8)
        h264 = None
        if p[6] < self.p_h264:
            crf = int(rng.integers(self.crf[0], self.crf[1] + 1))
            preset = self.presets[int(rng.integers(len(self.presets)))]
            moved = rng.random() < self.p_inter
            h264 = (crf, preset, tuple(rng.uniform(-self.motion, self.motion, 2)) if moved else None)
        return {
            "flip": p[0] < self.p_flip,
            "bc": (1 + rng.uniform(-self.gain, self.gain), rng.uniform(-self.offset, self.offset) * 255)
            if p[1] < self.p_exposure
            else None,
            "gamma": float(np.exp(rng.uniform(*np.log(self.gamma)))) if p[2] < self.p_low_light else None,
            "blur": float(rng.uniform(*self.blur_sigma)) if p[3] < self.p_blur else None,
            "noise": (float(rng.uniform(*self.noise_sigma)), int(rng.integers(2**31)))
            if p[4] < self.p_noise
            else None,
            "down": float(rng.uniform(*self.down)) if p[5] < self.p_down else None,
            "h264": h264,
            "quality": int(rng.integers(self.quality[0], self.quality[1] + 1))
            if p[7] < self.p_jpeg
            else None,
        }


def h264_round_trip(img: np.ndarray, crf: int, preset: str = "veryfast", motion=None) -> np.ndarray:
    """An RGB image through libx264 and back: an intra frame, or (``motion`` = (dx, dy) as
    fractions of the width/height) the P-frame that follows a copy of it moved by that much."""
    frames = [img]
    if motion is not None:
        h, w = img.shape[:2]
        m = np.float32([[1, 0, motion[0] * w], [0, 1, motion[1] * h]])
        moved = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        frames = [moved, img]
    return perturb_video_frames(frames, crf, preset=preset, tune="zerolatency", threads=1)[-1]


def _apply_video(img: np.ndarray, a: dict) -> np.ndarray:
    if a["flip"]:
        img = img[:, ::-1]
    img = _exposure(img, a["bc"], a["gamma"])
    if a["blur"] is not None:
        img = cv2.GaussianBlur(img, (0, 0), a["blur"])
    if a["noise"] is not None:
        img = _noise(img, *a["noise"])
    h, w = img.shape[:2]
    if a["down"] is not None:
        img = _scale(img, a["down"])
    if a["h264"] is not None:
        img = h264_round_trip(np.ascontiguousarray(img), *a["h264"])
    if a["down"] is not None:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    if a["quality"] is not None:
        img = jpeg(img, a["quality"])
    return np.ascontiguousarray(img)


def paired_augment(
    images: list[np.ndarray],
    rng: np.random.Generator,
    kind: str = "camera",
    video: VideoAugment | None = None,
) -> list[np.ndarray]:
    """Apply one draw of augmentation parameters to every image in ``images``. ``kind="flip"``
    only mirrors (NPR's recipe: camera-like resampling and JPEG wipe out the pixel relations it reads);
    ``kind="video"`` draws from ``video`` (default :class:`VideoAugment`)."""
    if kind == "flip":
        flip = rng.random() < 0.5
        return [np.ascontiguousarray(img[:, ::-1]) if flip else img for img in images]
    if kind == "video":
        params = (video or VideoAugment()).draw(rng)
        return [_apply_video(img, params) for img in images]
    if kind != "camera":
        raise ValueError(f"unknown augment kind '{kind}': choose one of {', '.join(KINDS)}")
    params = _draw(rng)
    return [_apply(img, params) for img in images]


def soften(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur or down-up resample a *real* face (hard negatives for up-sampling detectors such as NPR,
    which otherwise read any softness as a generator's up-sampling)."""
    if rng.random() < 0.5:
        return cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.0)))
    h, w = img.shape[:2]
    f = float(rng.uniform(0.4, 0.8))
    small = cv2.resize(img, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
