"""Post-forgery augmentations applied identically to a real face and its fake, so that only the
forgery differs between them (as SBI does with albumentations' ``additional_targets``).

They imitate what happens to faces in the wild, in camera-pipeline order: exposure (brightness,
contrast, low-light gamma), optics and resolution (blur, down-up scaling), sensor noise, then
JPEG/video compression. A detector must learn that none of these, alone, means "fake".
"""

from __future__ import annotations

import cv2
import numpy as np


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


def _apply(img: np.ndarray, a: dict) -> np.ndarray:
    if a["flip"]:
        img = img[:, ::-1]
    x = img.astype(np.float32)
    if a["bc"] is not None:
        x = x * a["bc"][0] + a["bc"][1]
    if a["gamma"] is not None:  # > 1 darkens: under-exposed indoor video
        x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** a["gamma"]
    img = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if a["blur"] is not None:
        img = cv2.GaussianBlur(img, (0, 0), a["blur"])
    if a["down"] is not None:
        h, w = img.shape[:2]
        small = cv2.resize(
            img, (max(int(w * a["down"]), 1), max(int(h * a["down"]), 1)), interpolation=cv2.INTER_AREA
        )
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if a["noise"] is not None:
        sigma, seed = a["noise"]
        noise = np.random.default_rng(seed).normal(0, sigma, img.shape).astype(np.float32)
        img = np.clip(img.astype(np.float32) + noise + 0.5, 0, 255).astype(np.uint8)
    if a["quality"] is not None:
        _, buf = cv2.imencode(
            ".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, a["quality"]]
        )
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


def paired_augment(
    images: list[np.ndarray], rng: np.random.Generator, kind: str = "camera"
) -> list[np.ndarray]:
    """Apply one draw of augmentation parameters to every image in ``images``. ``kind="flip"``
    only mirrors (NPR's recipe: camera-like resampling and JPEG wipe out the pixel relations it reads)."""
    if kind == "flip":
        flip = rng.random() < 0.5
        return [np.ascontiguousarray(img[:, ::-1]) if flip else img for img in images]
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
