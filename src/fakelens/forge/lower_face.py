"""Lower-face re-synthesis: the artefact lip-sync tools (Wav2Lip and its descendants) leave.

Wav2Lip (Prajwal et al., ACM MM 2020; Rudrabha/Wav2Lip ``inference.py``) crops each frame's detector
box (padded 10 px at the bottom), resizes it to 96 x 96, lets a generator redraw the lower half of that
square from the audio (a *reference frame* of the same clip supplies the identity) and resizes the
96 px output back into the box. What a detector can learn from is what that leaves: a mouth and jaw
drawn at far lower resolution than the rest of the face, with another frame's mouth shape, slightly
off in colour, inside a region bounded by the nose.

Here, with no audio and no generator, frame ``B`` of the same clip plays the generator's output:

- alignment: ``B`` moves onto ``A`` by a similarity fitted (``cv2.estimateAffinePartial2D``, LMEDS)
  to the points speech does not move (nose, eye corners, upper jaw), so ``A``'s head pose meets
  ``B``'s mouth *shape*; a piecewise-affine warp of the lower-face points would instead force ``B``'s
  mouth into ``A``'s shape and undo the lip-sync;
- generator-like path: a square face box (1.3 x the landmark extent, bottom-padded as Wav2Lip's
  ``pads``) resized to 96-128 px (``INTER_AREA``), blurred or sharpened *at that resolution*, resized
  back (linear or cubic), so the band above the low-res Nyquist is missing whatever the filter;
- colour: Reinhard LAB or RGB-mean transfer towards ``A`` inside the mask (``faceswap.colour_transfer``);
- blend: a feathered hull of the jaw and nose-bottom points, cut flat at the nostrils, where Wav2Lip
  pastes the whole box back without blending (its visible box seam is left to the paired augmentation).

All randomness comes from one ``numpy.random.Generator``. ``A == B`` is allowed: the mouth is then
``A``'s own, and only the low-resolution and colour path tells.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.faceswap import Forgery, colour_transfer
from fakelens.forge.masks import JAW

FILTERS = ("blur", "sharpen", "none")
#: points lip motion leaves in place: nose bridge and bottom, eye corners, jaw near the ears
STABLE = np.r_[27:36, 36, 39, 42, 45, 0:3, 14:17]
NOSE_BOTTOM = np.arange(31, 36)


@dataclass(frozen=True)
class LowerFaceConfig:
    """Each range is sampled uniformly, each tuple of choices uniformly; give one element to fix one."""

    low_res: tuple[int, int] = (96, 128)  # generator's square face size in pixels (Wav2Lip: 96)
    box_scale: float = 1.3  # face box side / landmark extent: a detector box includes the forehead
    bottom_pad: float = 0.06  # fraction of the box added below (Wav2Lip pads 10 px at the bottom)
    filters: tuple[str, ...] = FILTERS
    blur_sigma: tuple[float, float] = (0.3, 0.9)  # at low resolution
    sharpen_amount: tuple[float, float] = (0.2, 0.6)  # unsharp-mask gain at low resolution
    upsample: tuple[int, ...] = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)
    colours: tuple[str, ...] = ("reinhard", "reinhard", "mean")
    feather: tuple[float, float] = (0.05, 0.14)  # feather width, fraction of the face size


def _face_size(lm: np.ndarray) -> float:
    return float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1]), 1.0))


def lower_face_mask(shape: tuple[int, int], landmarks: np.ndarray, feather: float) -> np.ndarray:
    """Feathered hull of the jaw and the nose-bottom points, zero above the nostrils: 1 deep inside,
    falling smoothly to 0 at the hull edge over ``feather`` x face size (float32 HxW in [0, 1])."""
    lm = np.asarray(landmarks, np.float32)
    hull = np.zeros(shape, np.uint8)
    pts = np.concatenate([lm[JAW], lm[NOSE_BOTTOM]])
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    top = int(np.ceil(lm[NOSE_BOTTOM, 1].min()))  # the jaw's top corners sit at eye height: cut them
    hull[: max(top, 0)] = 0
    if not hull.any():
        return np.zeros(shape, np.float32)
    dist = cv2.distanceTransform(hull, cv2.DIST_L2, 5)
    u = np.clip(dist / max(feather * _face_size(lm), 1.0), 0, 1)
    return (u * u * (3 - 2 * u)).astype(np.float32)  # smoothstep: no kink where the ramp ends


def face_box(landmarks: np.ndarray, shape: tuple[int, int], config: LowerFaceConfig) -> tuple[int, ...]:
    """(x0, y0, x1, y1) of the square detector-like box the generator sees, clipped to the image."""
    lm = np.asarray(landmarks, np.float32)
    h, w = shape
    centre = (lm.min(0) + lm.max(0)) / 2
    half = config.box_scale * _face_size(lm) / 2
    x0, y0 = int(np.floor(centre[0] - half)), int(np.floor(centre[1] - half))
    x1 = int(np.ceil(centre[0] + half))
    y1 = int(np.ceil(centre[1] + half + config.bottom_pad * 2 * half))
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def generator_path(
    image: np.ndarray, box: tuple[int, ...], rng: np.random.Generator, config: LowerFaceConfig
) -> np.ndarray:
    """``image`` with its ``box`` redrawn through a 96-128 px square (blur or sharpen at that size)."""
    x0, y0, x1, y1 = box
    out = image.copy()
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    size = int(rng.integers(config.low_res[0], config.low_res[1] + 1))
    kind = config.filters[int(rng.integers(len(config.filters)))]
    interp = config.upsample[int(rng.integers(len(config.upsample)))]
    small = cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if kind == "blur":
        small = cv2.GaussianBlur(small, (0, 0), float(rng.uniform(*config.blur_sigma)))
    elif kind == "sharpen":
        amount = float(rng.uniform(*config.sharpen_amount))
        small = small + amount * (small - cv2.GaussianBlur(small, (0, 0), 1.0))
    elif kind != "none":
        raise ValueError(f"unknown filter {kind!r} (known: {', '.join(FILTERS)})")
    small = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=interp)
    return out


def align_similarity(source_lm: np.ndarray, target_lm: np.ndarray) -> np.ndarray:
    """2x3 similarity taking ``source_lm``'s stable points onto ``target_lm``'s (identity if the fit
    fails, e.g. for degenerate points)."""
    src = np.asarray(source_lm, np.float32)[STABLE]
    dst = np.asarray(target_lm, np.float32)[STABLE]
    if np.array_equal(src, dst):
        return np.eye(2, 3)
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    return m if m is not None else np.eye(2, 3)


def lower_face_resynthesis(
    frame_a: np.ndarray,
    landmarks_a: np.ndarray,
    frame_b: np.ndarray,
    landmarks_b: np.ndarray,
    rng: np.random.Generator,
    config: LowerFaceConfig | None = None,
) -> Forgery:
    """Replace the mouth and jaw of aligned crop ``frame_a`` by ``frame_b``'s (same clip, same size,
    RGB uint8, (68, 2) landmarks each), redrawn at low resolution and blended in softly.

    ``mask`` is the blend weight (zero above the nostrils and outside the jaw hull, where ``fake``
    equals ``frame_a``); ``target`` is ``frame_a``."""
    cfg = config or LowerFaceConfig()
    a, b = np.asarray(frame_a), np.asarray(frame_b)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two equal-size RGB crops, got {a.shape} and {b.shape}")
    shape = a.shape[:2]
    lm_a, lm_b = np.asarray(landmarks_a, np.float32), np.asarray(landmarks_b, np.float32)
    feather = float(rng.uniform(*cfg.feather))
    colour = cfg.colours[int(rng.integers(len(cfg.colours)))]

    m = align_similarity(lm_b, lm_a)
    if np.array_equal(m, np.eye(2, 3)):
        moved = b.copy()
    else:
        moved = cv2.warpAffine(b, m, shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    redrawn = generator_path(moved, face_box(lm_a, shape, cfg), rng, cfg)
    mask = lower_face_mask(shape, lm_a, feather)
    redrawn = colour_transfer(redrawn, a, mask, colour)
    m3 = mask[..., None]
    fake = np.clip(m3 * redrawn + (1 - m3) * a.astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
    return Forgery(fake=fake, mask=mask, target=a)


def alignment_residual(source_lm: np.ndarray, target_lm: np.ndarray) -> float:
    """RMS distance of the stable points after ``align_similarity``, over the target's face size: how
    far apart two head poses are that a similarity cannot reconcile (a turn of the head, not a shift)."""
    src = np.asarray(source_lm, np.float32)
    m = align_similarity(src, target_lm)
    moved = src[STABLE] @ m[:, :2].T + m[:, 2]
    tgt = np.asarray(target_lm, np.float32)
    return float(np.sqrt(((moved - tgt[STABLE]) ** 2).sum(1).mean()) / _face_size(tgt))
