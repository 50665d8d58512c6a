"""Face-region masks from 68-point landmarks, shared by the training forgeries."""

from __future__ import annotations

import cv2
import numpy as np

JAW = np.arange(0, 17)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)
EYES = np.arange(36, 48)
MOUTH = np.arange(48, 68)

HULL_VARIANTS = ("full", "inner", "lower", "extended")


def forehead_points(landmarks: np.ndarray, lift: float = 0.6) -> np.ndarray:
    """Points above the brows, ``lift`` x brow-to-nose-tip height up: dlib's 68 points stop at the
    brows, while SBI's 81-point model also covers the forehead."""
    brows = landmarks[BROWS]
    height = landmarks[33, 1] - brows[:, 1].mean()
    up = np.array([0.0, -lift * max(height, 1.0)], dtype=np.float32)
    return brows + up


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray, variant: str = "full", forehead: bool = True):
    """A binary (0/1 float32) convex-hull mask of a landmark subset.

    Variants follow Face X-ray's ``random_get_hull``: the whole face, the inner face (brows, eyes,
    nose, mouth), the lower face (jaw and nose), or the whole face extended to the forehead.
    """
    lm = np.asarray(landmarks, dtype=np.float32)
    if variant == "full":
        pts = lm
    elif variant == "inner":
        pts = lm[np.concatenate([BROWS, EYES, NOSE, MOUTH])]
    elif variant == "lower":
        pts = lm[np.concatenate([JAW, NOSE[4:], MOUTH])]
    elif variant == "extended":
        pts = np.concatenate([lm, forehead_points(lm, 0.9)])
    else:
        raise ValueError(f"unknown hull variant {variant!r} (known: {', '.join(HULL_VARIANTS)})")
    if forehead and variant in ("full", "inner"):
        pts = np.concatenate([pts, forehead_points(lm)])
    mask = np.zeros(shape, dtype=np.uint8)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(np.float32)


def elastic_deform(mask: np.ndarray, rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0):
    """Random smooth displacement (Simard et al.) that makes the hull's edge irregular."""
    h, w = mask.shape
    k = int(sigma * 4) | 1
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), sigma) * alpha
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
