"""Video-level blending (VB) of StA, "Generalizing Deepfake Video Detection with Plug-and-Play:
Video-Level Blending and Spatiotemporal Adapter Tuning" (Yan et al., arXiv 2408.17065).

Per the abstract, VB reproduces *facial feature drift* (the small frame-to-frame wobble of eyes,
nose and mouth that frame-by-frame face swaps leave) by blending each original frame with a
warped version of itself, frame by frame. No VB code is public (StA4Deepfake's ``train.py`` only
has ``VideoBlendDataset`` commented out), so the warp, its schedule and the mask are choices made
here, not confirmable from code:

* warp = an affine map about the face centre (rotation <= 3 deg, log-scale <= 0.03, translation
  <= 2 % of face size) composed with Gaussian-bump displacements of the eyes, nose and mouth
  (<= 2.5 % of face size each, bump radius 12 % of face size);
* schedule = ``keyframes`` parameter vectors spread evenly over the clip and joined by cosine
  (ease-in-out) interpolation, so the warp drifts slowly and smoothly; the first and last keyframe
  of each parameter have opposite signs and at least half its range, so the drift is never nil;
* mask = SBI's soft hull mask on each frame's own landmarks, with the hull variant, elastic field,
  blur sizes and blend ratio drawn once per clip (a flickering mask would be an easier cue).
All randomness comes from one ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import EYES, MOUTH, NOSE, elastic_deform, hull_mask
from fakelens.forge.sbi import BLEND_RATIOS, soft_blend_mask

# per-parameter maximum: rotation (deg), log-scale, tx, ty, then (dx, dy) for eyes, nose, mouth;
# lengths are fractions of the face size
_AMPLITUDE = np.array([3.0, 0.03, 0.02, 0.02] + [0.025] * 6)
_FEATURES = (EYES, NOSE, MOUTH)


@dataclass(frozen=True)
class VideoBlend:
    """``fakes``: (T, H, W, 3) uint8; ``masks``: (T, H, W) float32 in [0, 1]; ``targets``: the input
    frames; ``params``: (T, 10) warp parameters per frame (see ``_AMPLITUDE``), for inspection."""

    fakes: np.ndarray
    masks: np.ndarray
    targets: np.ndarray
    params: np.ndarray


def drift_schedule(num_frames: int, rng: np.random.Generator, keyframes: int = 2) -> np.ndarray:
    """(T, 10) warp parameters drifting smoothly from a first to a last keyframe (see module doc)."""
    if keyframes < 2:
        raise ValueError(f"keyframes must be >= 2, got {keyframes}")
    n = _AMPLITUDE.size
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    keys = rng.uniform(-1, 1, (keyframes, n))
    keys[0] = -sign * rng.uniform(0.5, 1, n)
    keys[-1] = sign * rng.uniform(0.5, 1, n)
    keys *= _AMPLITUDE
    if num_frames == 1:
        return keys[:1]
    pos = np.linspace(0, keyframes - 1, num_frames)  # frame position in keyframe units
    k = np.minimum(pos.astype(int), keyframes - 2)
    u = (1 - np.cos(np.pi * (pos - k))) / 2  # ease-in-out between keyframes k and k + 1
    return keys[k] * (1 - u[:, None]) + keys[k + 1] * u[:, None]


def warp_maps(landmarks: np.ndarray, params: np.ndarray, shape: tuple[int, int]):
    """``cv2.remap`` maps of one frame's warp: features displaced, then the affine about the centre."""
    h, w = shape
    lm = np.asarray(landmarks, np.float32)
    size = float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1]), 1.0))
    centre = lm.mean(0)
    rot, log_s, tx, ty = params[:4]
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(rot), float(np.exp(log_s)))
    m[:, 2] += (tx * size, ty * size)
    inv = cv2.invertAffineTransform(m)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    map_y = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    radius2 = (0.12 * size) ** 2
    for j, idx in enumerate(_FEATURES):  # pull content from around each feature: it moves by +d
        c = lm[idx].mean(0)
        g = np.exp(-((map_x - c[0]) ** 2 + (map_y - c[1]) ** 2) / (2 * radius2))
        dx, dy = params[4 + 2 * j : 6 + 2 * j] * size
        map_x, map_y = map_x - dx * g, map_y - dy * g
    return map_x.astype(np.float32), map_y.astype(np.float32)


def blend_video(
    frames: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, keyframes: int = 2
) -> VideoBlend:
    """Blend each frame of one clip ((T, H, W, 3) uint8, (T, 68, 2) landmarks) with a warped copy
    of itself inside a soft face-hull mask, the warp drifting smoothly over the clip."""
    frames = np.asarray(frames)
    landmarks = np.asarray(landmarks, np.float32)
    if frames.ndim != 4 or landmarks.shape != (len(frames), 68, 2):
        raise ValueError(
            f"expected (T, H, W, 3) frames and (T, 68, 2) landmarks, got {frames.shape}, {landmarks.shape}"
        )
    t, h, w = frames.shape[:3]
    params = drift_schedule(t, rng, keyframes)
    variant = ("full", "full", "inner", "lower", "extended")[int(rng.integers(5))]
    forehead = bool(rng.random() >= 0.25)
    ratio = BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))]
    mask_seed = int(rng.integers(2**63))  # the same elastic field and blurs on every frame
    fakes, masks = np.empty_like(frames), np.empty((t, h, w), np.float32)
    for i in range(t):
        mrng = np.random.default_rng(mask_seed)
        hull = elastic_deform(hull_mask((h, w), landmarks[i], variant, forehead), mrng)
        soft = soft_blend_mask(hull, mrng)
        if soft.max() <= 0:
            soft = hull
        soft = soft * ratio
        map_x, map_y = warp_maps(landmarks[i], params[i], (h, w))
        warped = cv2.remap(frames[i], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        m3 = soft[..., None]
        fakes[i] = np.clip(m3 * warped + (1 - m3) * frames[i].astype(np.float32) + 0.5, 0, 255).astype(
            np.uint8
        )
        masks[i] = soft
    return VideoBlend(fakes=fakes, masks=masks, targets=frames, params=params)
