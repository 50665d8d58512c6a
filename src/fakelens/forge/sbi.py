"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): a training forgery made from one real face.

The face is blended onto *itself* after a slight colour/frequency change and a small shift, so the
only evidence left is what every face swap leaves: a blending boundary and mismatched statistics
inside a face-shaped region. Detectors trained on these generalise to unseen face swaps.

Mechanism as in the paper's code (``src/utils/sbi.py``, ``blend.py``): source-target augmentation
(RGB shift, HSV, brightness/contrast, then down-up scaling or sharpening) on either the source or the
target; affine jitter of the source (translate x +-3 %, y +-1.5 %, scale 0.95-1.05); a landmark hull
mask with random variants and elastic deformation; a soft mask from two Gaussian blurs; a blend ratio
from {0.25, 0.5, 0.75, 1, 1, 1}. Differences: dlib's 68 points (the paper uses an 81-point model), so
the forehead is extrapolated from the brows; hull variants are re-implemented, not Face X-ray's code;
all randomness comes from one ``numpy.random.Generator``, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import elastic_deform, hull_mask

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class SBIConfig:
    p_no_forehead: float = 0.25
    hull_variants: tuple[str, ...] = ("full", "full", "inner", "lower", "extended")
    shift_x: float = 0.03
    shift_y: float = 0.015
    scale: tuple[float, float] = (0.95, 1 / 0.95)
    elastic_alpha: float = 50.0
    elastic_sigma: float = 7.0


@dataclass(frozen=True)
class SelfBlend:
    """``fake`` = ``mask * source + (1 - mask) * target``; ``target`` is the real image as the
    blend saw it (it may carry the colour augmentation: pair it with the fake so that the
    augmentation alone never tells real from fake)."""

    fake: np.ndarray  # uint8 HxWx3
    mask: np.ndarray  # float32 HxW in [0, 1]
    target: np.ndarray  # uint8 HxWx3


def _colour_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.astype(np.float32)
    if rng.random() < 0.3:  # RGB shift +-20
        out += rng.uniform(-20, 20, 3).astype(np.float32)
    if rng.random() < 0.3:  # hue/saturation/value shift (+-0.3 of each range, as albumentations)
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-0.3, 0.3) * 180 * 0.1) % 180
        hsv[..., 1] = hsv[..., 1] * (1 + rng.uniform(-0.3, 0.3))
        hsv[..., 2] = hsv[..., 2] * (1 + rng.uniform(-0.3, 0.3))
        out = cv2.cvtColor(np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(
            np.float32
        )
    if rng.random() < 0.3:  # brightness/contrast +-0.1
        alpha, beta = 1 + rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1) * 255
        out = out * alpha + beta
    return np.clip(out, 0, 255).astype(np.uint8)


def _frequency_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Either lose high frequencies (nearest down-scale x2/x4 and back) or boost them (sharpen)."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        factor = 2 if rng.random() < 0.5 else 4
        small = cv2.resize(img, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_NEAREST)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = rng.uniform(0.2, 0.5)
    kernel = np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]], dtype=np.float32)
    sharp = cv2.filter2D(img.astype(np.float32), -1, kernel)
    return np.clip((1 - alpha) * img + alpha * sharp, 0, 255).astype(np.uint8)


def _affine_jitter(img: np.ndarray, rng: np.random.Generator, cfg: SBIConfig) -> np.ndarray:
    h, w = img.shape[:2]
    s = rng.uniform(*cfg.scale)
    tx, ty = rng.uniform(-cfg.shift_x, cfg.shift_x) * w, rng.uniform(-cfg.shift_y, cfg.shift_y) * h
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], dtype=np.float64)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _odd(rng: np.random.Generator, low: int = 5, high: int = 26) -> int:
    return int(rng.integers(low, high)) | 1


def soft_blend_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's ``get_blend_mask``: random resize, blur, erode (keep only the fully-inside part),
    blur again with a random sigma, normalise, resize back."""
    h, w = mask.shape
    size_h, size_w = int(h * rng.uniform(0.75, 1.0)), int(w * rng.uniform(0.75, 1.0))
    m = cv2.resize(mask, (size_w, size_h))
    k1 = _odd(rng)
    m = cv2.GaussianBlur(m, (k1, k1), 0)
    m = m / max(float(m.max()), 1e-6)
    m[m < 1] = 0
    k2, sigma = _odd(rng), float(rng.uniform(5, 46))
    m = cv2.GaussianBlur(m, (k2, k2), sigma)
    m = m / max(float(m.max()), 1e-6)
    return cv2.resize(m, (w, h)).astype(np.float32)


def self_blend(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, config: SBIConfig | None = None
) -> SelfBlend:
    """Make one self-blended fake from an RGB uint8 face image and its (68, 2) landmarks."""
    cfg = config or SBIConfig()
    h, w = image.shape[:2]
    forehead = rng.random() >= cfg.p_no_forehead
    variant = cfg.hull_variants[int(rng.integers(len(cfg.hull_variants)))]
    mask = hull_mask((h, w), landmarks, variant=variant, forehead=forehead)
    mask = elastic_deform(mask, rng, cfg.elastic_alpha, cfg.elastic_sigma)

    source, target = image.copy(), image.copy()
    if rng.random() < 0.5:
        source = _frequency_jitter(_colour_jitter(source, rng), rng)
    else:
        target = _frequency_jitter(_colour_jitter(target, rng), rng)
    source = _affine_jitter(source, rng, cfg)

    soft = soft_blend_mask(mask, rng)
    if soft.max() <= 0:  # degenerate hull (tiny or off-image face): fall back to the raw hull
        soft = mask
    soft = soft * BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))]
    m3 = soft[..., None]
    fake = m3 * source.astype(np.float32) + (1 - m3) * target.astype(np.float32)
    return SelfBlend(fake=np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask=soft, target=target)


def self_blend_photo(image: np.ndarray, pipeline, rng: np.random.Generator, config: SBIConfig | None = None):
    """Self-blend the largest face of a whole photo: blend in its aligned crop (where the landmarks
    are), then warp the result back and paste it where the blend mask acted. ``None`` if no face."""
    from fakelens.faces.landmarks import landmarks68

    faces = pipeline.extract(image)
    if not faces:
        return None
    aligned = faces[0]
    blend = self_blend(aligned.crop, landmarks68(aligned.crop, pipeline.config.crop), rng, config)
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(aligned.matrix)
    fake = cv2.warpAffine(blend.fake, inv, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(blend.mask, inv, (w, h), flags=cv2.INTER_LINEAR)
    m3 = mask[..., None]
    # composite by the same soft mask, so the photo keeps its own pixels (and no crop seam) outside it
    out = m3 * fake.astype(np.float32) + (1 - m3) * image.astype(np.float32)
    return SelfBlend(fake=np.clip(out + 0.5, 0, 255).astype(np.uint8), mask=mask, target=image)
