"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): a training forgery made from one real face.

The face is blended onto *itself* after a slight colour/frequency change and a small shift, so the
only evidence left is what every face swap leaves: a blending boundary and mismatched statistics
inside a face-shaped region. Detectors trained on these generalise to unseen face swaps.

Mechanism of the official code (mapooon/SelfBlendedImages ``src/utils/sbi.py``, ``blend.py``,
``funcs.py``; hull types from Face X-ray's ``random_get_hull``, AlgoHunt/Face-Xray):

- hull: one of dfl_full / extended / components / facehull (1/4 each); only facehull uses the
  forehead points, which are dropped with p=0.25 (``landmark[:68]``);
- source transform, applied to the source *or* the target (50/50): RGBShift +-20 (p=0.3), then
  always HueSaturationValue +-0.3 and RandomBrightnessContrast +-0.1, then one of RandomDownScale
  (x2/x4 nearest down, linear up) or Sharpen (alpha 0.2-0.5, lightness 0.5-1), 50/50;
- the same random affine (translate x +-3 %, y +-1.5 %, scale 0.95-1/0.95 per axis, about the
  centre) moves the source and the mask; then an elastic deformation (alpha 50, sigma 7) of the mask;
- soft mask: resize to an absolute 192-256 px per axis, Gaussian blur (odd kernel 5-25), keep where
  it is 1, blur again (odd kernel 5-25, integer sigma 5-45), normalise, resize back; times a blend
  ratio from {0.25, 0.5, 0.75, 1, 1, 1}; ``fake = mask*source + (1-mask)*target``, truncated to uint8.

The transforms are re-implemented with OpenCV/numpy at albumentations 1.x uint8 semantics (LUTs
truncated to integers, so HSV +-0.3 moves each level by 0 or -1 after a lossy HSV round trip). Not
albumentations itself: the official code uses its 1.x API (``ElasticTransform(alpha_affine=...)``,
``ImageCompression(quality_lower=...)``), gone from the 2.x that installs here, and its own global RNG
would break seeding by the ``numpy.random.Generator`` passed in.

Differences that remain:

- landmarks: dlib's 68 points; the official 81-point model's 13 forehead points are replaced by the
  brows lifted 0.6 x brow-to-nose-tip height (``masks.forehead_points``), so facehull's top differs;
- crop framing: the blend runs on fakelens's aligned template crop (224 px, margin 0.3), not on the
  official wide landmark-box crop of the full frame that is re-cropped with random margins after
  blending, so the absolute 192-256 px mask size covers a different fraction of the face;
- randomness: one ``numpy.random.Generator`` drives every draw (Python ``random`` + ``np.random`` in the
  official code): same distributions, different streams;
- elastic field: ``cv2.GaussianBlur`` (4-sigma kernel, reflect border) instead of scipy's
  ``gaussian_filter``: the same filter up to float rounding;
- an empty soft mask (hull off the crop) falls back to the moved hull instead of raising and
  re-drawing another image as the official ``__getitem__`` does;
- no horizontal flip before blending and no post-blend RGB/HSV/contrast/JPEG augmentation here: those
  are the data pipeline's paired augmentation (``forge/augment.py``, its own parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import forehead_points

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
HULL_TYPES = ("dfl_full", "extended", "components", "facehull")

# Face X-ray's hull parts (68-point indices): each part is filled as its own convex hull.
_DFL_FULL = (np.r_[0:17, 48:68, 0, 8, 16], np.r_[27:31, 33], np.r_[17:27, 0, 27, 16, 33])
_COMPONENTS = (
    np.r_[0:9, 17],  # right jaw
    np.r_[8:17, 26],  # left jaw
    np.r_[17:20, 8],  # right cheek
    np.r_[24:27, 8],  # left cheek
    np.r_[19:25, 8],  # nose ridge
    np.r_[17:22, 27, 31:36, 8],  # right eye
    np.r_[22:27, 27, 31:36, 8],  # left eye
    np.r_[27:31, 31:36],  # nose
)


@dataclass(frozen=True)
class SBIConfig:
    """Defaults are the official values."""

    p_no_forehead: float = 0.25
    hull_variants: tuple[str, ...] = HULL_TYPES
    p_rgb_shift: float = 0.3
    shift_x: float = 0.03
    shift_y: float = 0.015
    scale: tuple[float, float] = (0.95, 1 / 0.95)
    elastic_alpha: float = 50.0
    elastic_sigma: float = 7.0
    mask_size: tuple[int, int] = (192, 256)  # soft-mask working size in pixels (absolute), per axis
    blend_ratios: tuple[float, ...] = BLEND_RATIOS


@dataclass(frozen=True)
class SelfBlend:
    """``fake`` = ``mask * source + (1 - mask) * target``; ``target`` is the real image as the
    blend saw it (it may carry the source transform: pair it with the fake so that the
    transform alone never tells real from fake)."""

    fake: np.ndarray  # uint8 HxWx3
    mask: np.ndarray  # float32 HxW in [0, 1]
    target: np.ndarray  # uint8 HxWx3


def _lift_brows(lm: np.ndarray) -> np.ndarray:
    """Face X-ray's "extended" hull: each brow point moves up by half its distance to the eye line
    (integer arithmetic, as there)."""
    lm = lm.copy()
    side_l, side_r = (lm[36] + lm[0]) // 2, (lm[16] + lm[45]) // 2
    eyes_l = np.stack([(lm[36] + side_l) // 2, lm[36], lm[37], lm[38], lm[39]])
    eyes_r = np.stack([lm[42], lm[43], lm[44], lm[45], (lm[45] + side_r) // 2])
    lm[17:22] += (lm[17:22] - eyes_l) // 2
    lm[22:27] += (lm[22:27] - eyes_r) // 2
    return lm


def sbi_hull_mask(shape: tuple[int, int], landmarks: np.ndarray, variant: str, forehead: bool = True):
    """One of Face X-ray's four hull masks (float32 HxW in [0, 1]); only ``facehull`` uses the forehead
    points, as with the official 81-point landmarks."""
    lm = np.asarray(landmarks, dtype=np.float32)[:68]
    if forehead:
        lm = np.concatenate([lm, forehead_points(lm)])
    pts = lm.astype(np.int32)  # truncated, as Face X-ray's ``landmark.astype('int32')``
    mask = np.zeros(shape, dtype=np.float32)
    if variant == "facehull":
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 255.0, lineType=cv2.LINE_AA)
        return mask / 255.0
    if variant == "dfl_full":
        parts = [pts[i] for i in _DFL_FULL]
    elif variant in ("components", "extended"):
        base = _lift_brows(pts[:68]) if variant == "extended" else pts[:68]
        parts = [base[i] for i in _COMPONENTS]
    else:
        raise ValueError(f"unknown hull variant {variant!r} (known: {', '.join(HULL_TYPES)})")
    for part in parts:
        cv2.fillConvexPoly(mask, cv2.convexHull(part), 255.0)
    return mask / 255.0


def _lut(img: np.ndarray, values: np.ndarray) -> np.ndarray:
    """albumentations 1.x uint8 LUT: clip to [0, 255], then truncate (not round) to an integer."""
    return cv2.LUT(img, np.clip(values, 0, 255).astype(np.uint8))


def _rgb_shift(img: np.ndarray, rng: np.random.Generator, limit: float = 20.0) -> np.ndarray:
    out = np.empty_like(img)
    for c, shift in enumerate(rng.uniform(-limit, limit, 3)):
        out[..., c] = _lut(img[..., c], np.arange(256, dtype=np.float32) + float(shift))
    return out


def _hsv_shift(img: np.ndarray, rng: np.random.Generator, limit: float = 0.3) -> np.ndarray:
    """HueSaturationValue on uint8: OpenCV HSV (hue 0-179), each channel shifted by a float that the
    LUT truncates, so +-0.3 changes a level by 0 or -1; the round trip itself is lossy."""
    dh, ds, dv = (float(x) for x in rng.uniform(-limit, limit, 3))
    levels = np.arange(256, dtype=np.int16)
    h, s, v = cv2.split(cv2.cvtColor(img, cv2.COLOR_RGB2HSV))
    h = cv2.LUT(h, np.mod(levels + dh, 180).astype(np.uint8))
    s, v = _lut(s, levels + ds), _lut(v, levels + dv)
    return cv2.cvtColor(cv2.merge((h, s, v)), cv2.COLOR_HSV2RGB)


def _brightness_contrast(img: np.ndarray, rng: np.random.Generator, limit: float = 0.1) -> np.ndarray:
    alpha, beta = 1.0 + float(rng.uniform(-limit, limit)), float(rng.uniform(-limit, limit))
    lut = np.arange(256, dtype=np.float32)
    lut *= alpha
    lut += beta * 255  # brightness_by_max
    return _lut(img, lut)


def _random_downscale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    r = (2, 4)[int(rng.integers(2))]
    small = cv2.resize(img, (max(int(w / r), 1), max(int(h / r), 1)), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _sharpen(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    alpha, lightness = float(rng.uniform(0.2, 0.5)), float(rng.uniform(0.5, 1.0))
    identity = np.zeros((3, 3), dtype=np.float32)
    identity[1, 1] = 1
    effect = np.full((3, 3), -1, dtype=np.float32)
    effect[1, 1] = 8 + lightness
    return cv2.filter2D(img, -1, (1 - alpha) * identity + alpha * effect)  # saturating, reflect-101


def source_transform(img: np.ndarray, rng: np.random.Generator, config: SBIConfig | None = None):
    """SBI's ``get_source_transforms``: RGB shift (p=0.3), HSV and brightness/contrast (always), then
    down-up scaling or sharpening (50/50). uint8 in, uint8 out."""
    cfg = config or SBIConfig()
    out = _rgb_shift(img, rng) if rng.random() < cfg.p_rgb_shift else img
    out = _brightness_contrast(_hsv_shift(out, rng), rng)
    return _random_downscale(out, rng) if rng.random() < 0.5 else _sharpen(out, rng)


def random_affine(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, config: SBIConfig | None = None
):
    """albumentations 1.x ``Affine``, the same draw for both: independent x/y scale about the centre
    (w/2-0.5, h/2-0.5) and a translation; image bilinear, mask nearest, constant 0 outside."""
    cfg = config or SBIConfig()
    h, w = mask.shape[:2]
    sx, sy = rng.uniform(*cfg.scale, 2)
    tx, ty = rng.uniform(-cfg.shift_x, cfg.shift_x) * w, rng.uniform(-cfg.shift_y, cfg.shift_y) * h
    cx, cy = w / 2 - 0.5, h / 2 - 0.5
    m = np.array([[sx, 0, cx - sx * cx + tx], [0, sy, cy - sy * cy + ty]], dtype=np.float64)
    image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    return image, mask


def elastic_mask(mask: np.ndarray, rng: np.random.Generator, alpha: float = 50.0, sigma: float = 7.0):
    """albumentations 1.x ``ElasticTransform`` of a mask: uniform(-1, 1) fields smoothed by a
    4-sigma Gaussian, times ``alpha``; nearest sampling, reflect-101 border."""
    h, w = mask.shape
    k = 2 * int(4 * sigma + 0.5) + 1

    def field() -> np.ndarray:
        noise = rng.random((h, w)) * 2 - 1
        return cv2.GaussianBlur(noise, (k, k), sigma, borderType=cv2.BORDER_REFLECT) * alpha

    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = (xs + field()).astype(np.float32), (ys + field()).astype(np.float32)
    return cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)


def soft_blend_mask(
    mask: np.ndarray, rng: np.random.Generator, config: SBIConfig | None = None
) -> np.ndarray:
    """SBI's ``get_blend_mask``: resize to an absolute random size, blur, keep only where the blur is
    1 (the fully-inside part), blur again with a random sigma, normalise, resize back. All zeros if
    the mask is empty."""
    cfg = config or SBIConfig()
    h, w = mask.shape
    size_h, size_w = (int(s) for s in rng.integers(cfg.mask_size[0], cfg.mask_size[1] + 1, 2))
    k1, k2 = (int(k) for k in 5 + 2 * rng.integers(0, 11, 2))  # odd, 5..25
    sigma = float(rng.integers(5, 46))
    m = cv2.GaussianBlur(cv2.resize(mask.astype(np.float32), (size_w, size_h)), (k1, k1), 0)
    if m.max() <= 0:
        return np.zeros((h, w), dtype=np.float32)
    m = m / m.max()
    m[m < 1] = 0
    m = cv2.GaussianBlur(m, (k2, k2), sigma)
    return cv2.resize(m / m.max(), (w, h)).astype(np.float32)


def self_blend(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, config: SBIConfig | None = None
) -> SelfBlend:
    """Make one self-blended fake from an RGB uint8 face image and its (68, 2) landmarks."""
    cfg = config or SBIConfig()
    h, w = image.shape[:2]
    forehead = rng.random() >= cfg.p_no_forehead
    variant = cfg.hull_variants[int(rng.integers(len(cfg.hull_variants)))]
    mask = sbi_hull_mask((h, w), landmarks, variant, forehead)

    source, target = image.copy(), image.copy()
    if rng.random() < 0.5:
        source = source_transform(source, rng, cfg)
    else:
        target = source_transform(target, rng, cfg)
    source, mask = random_affine(source, mask, rng, cfg)
    mask = elastic_mask(mask, rng, cfg.elastic_alpha, cfg.elastic_sigma)

    soft = soft_blend_mask(mask, rng, cfg)
    if soft.max() <= 0:  # degenerate hull (tiny or off-image face): fall back to the moved hull
        soft = mask.astype(np.float32)
    soft = soft * np.float32(cfg.blend_ratios[int(rng.integers(len(cfg.blend_ratios)))])
    m3 = soft[..., None]
    fake = m3 * source + (1 - m3) * target  # float32, truncated to uint8 as the official code
    return SelfBlend(fake=np.clip(fake, 0, 255).astype(np.uint8), mask=soft, target=target)


def self_blend_photo(image: np.ndarray, pipeline, rng: np.random.Generator, config: SBIConfig | None = None):
    """Self-blend the largest face of a whole photo: blend in its aligned crop (where the landmarks
    are), then warp the result back and paste it where the blend mask acted. ``None`` if no face."""
    from fakelens.faces.landmarks import landmarks68

    faces = pipeline.extract(image)
    if not faces:
        return None
    aligned = faces[0]
    blend = self_blend(aligned.crop, landmarks68(aligned.crop, pipeline.config.crop), rng, config)
    fake, mask = paste_crop(image, blend.fake, blend.mask, aligned.matrix)
    return SelfBlend(fake=fake, mask=mask, target=image)


def paste_crop(image: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray):
    """Warp an edited aligned ``crop`` (``matrix``: the 2x3 image -> crop alignment) and its soft
    ``mask`` (crop-sized, in [0, 1]) back into ``image`` and composite by that mask, so the image
    keeps its own pixels (and no crop seam) where the mask is 0. Returns (uint8 image, image-sized
    mask)."""
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(matrix)
    fake = cv2.warpAffine(crop, inv, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, inv, (w, h), flags=cv2.INTER_LINEAR)
    m3 = mask[..., None]
    out = m3 * fake.astype(np.float32) + (1 - m3) * image.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask
