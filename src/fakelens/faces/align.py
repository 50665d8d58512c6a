"""Alignment of a detected face to a canonical 5-point template, and the crop with margin.

``align_face`` is the single function that turns a detection into the pixels a detector sees, used
by training (``fakelens train``), evaluation and ``fakelens scan`` alike; the :class:`CropSpec` is
stored in every checkpoint so that a model is always fed faces cropped exactly as in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from fakelens.faces.detect import DetectedFace

# ArcFace's 112x112 template (right eye, left eye, nose, right/left mouth corner), the de-facto
# standard alignment target (also DeepfakeBench's), normalised to the unit square.
ARCFACE_5 = (
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
        dtype=np.float32,
    )
    / 112.0
)


@dataclass(frozen=True)
class CropSpec:
    """How a face becomes a square crop: ``margin`` is extra context around the template (0.3 is
    DeepfakeBench's 1.3x), ``shift_y`` moves the window up (negative) to keep the chin and
    forehead, where blending boundaries live."""

    size: int = 224
    margin: float = 0.3
    shift_y: float = -0.04
    template: str = "arcface5"

    def template_points(self) -> np.ndarray:
        if self.template != "arcface5":
            raise ValueError(f"unknown alignment template {self.template!r} (known: 'arcface5')")
        pts = (ARCFACE_5 - 0.5) / (1.0 + self.margin) + 0.5
        pts[:, 1] -= self.shift_y / (1.0 + self.margin)
        return pts * self.size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AlignedFace:
    """A face crop and the 2x3 matrix that maps image pixels to crop pixels."""

    crop: np.ndarray  # (size, size, 3) uint8 RGB
    matrix: np.ndarray  # (2, 3) float64, image -> crop
    face: DetectedFace


def alignment_matrix(points5: np.ndarray, spec: CropSpec) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, shift) from 5 points."""
    src = np.asarray(points5, dtype=np.float64)
    dst = spec.template_points().astype(np.float64)
    # Umeyama without reflection, closed form (cv2.estimateAffinePartial2D is RANSAC-based and
    # can return None on five points; this never fails).
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var_s = (s**2).sum() / len(src)
    scale = (sig * sign).sum() / max(var_s, 1e-12)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def align_face(image: np.ndarray, face: DetectedFace, spec: CropSpec) -> AlignedFace:
    """Warp ``image`` so the face's 5 points land on the template; borders replicate edge pixels
    (a black frame would be a shortcut feature that differs between datasets)."""
    matrix = alignment_matrix(face.points5, spec)
    crop = cv2.warpAffine(
        image, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return AlignedFace(crop=crop, matrix=matrix, face=face)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]
