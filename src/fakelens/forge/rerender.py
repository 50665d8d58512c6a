"""Entire-face re-rendering: what a talking-head generator's decoder does to every frame.

Talking-head tools (SadTalker, DreamTalk/PIRenderer, StyleTalk, Linly's SadTalker path) crop the
source portrait to a square, warp it in a learned feature space to follow the driving motion and
*decode* each output frame at 256 px (Hallo/JoyHallo: a diffusion decoder at 512 px). Every pixel of
the face is redrawn, so what the camera left - sensor noise, compression grain, pore-level texture -
is gone, edges stay (an L1/perceptual-loss decoder reproduces edges, not noise), and the frame is
resized to the output size. SadTalker's optional GFPGAN enhancer then sharpens the decoded face, and
its ``full`` mode pastes the generated face back into the *still* source image with a soft seam.

Here, with no generator: the animated frame (``forge/animate.py``: frozen texture, moving geometry)
is resized to the decoder's size (``INTER_AREA``), smoothed by an edge-preserving bilateral filter at
that size (noise and fine texture removed, edges kept), optionally unsharp-masked after resizing
back (the enhancer), and either kept whole (the whole frame is generated) or pasted into the still
source crop through a feathered whole-face hull with the forehead (``full`` mode). Differences from
the tools: no learned decoder, so no generator fingerprint beyond the smoothing and resampling, and
no inpainting where the warp stretches. The look is one draw per clip (``draw_render``), as one
generator gives every frame of its output the same look. Caveat: the video augmentation's random
down-up resizing hits reals and fakes alike, but every talkinghead fake is also resampled, so
resampling is more common among these fakes than among reals (a cue a detector may learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakelens.forge.masks import hull_mask


@dataclass(frozen=True)
class RerenderConfig:
    """Each range is sampled uniformly once per clip; give equal ends to fix one."""

    # decoder size / crop size: a 256 px output frame holds the face at ~110-190 px of the 224 crop
    render_share: tuple[float, float] = (0.5, 0.85)
    smooth_colour: tuple[float, float] = (12.0, 40.0)  # bilateral sigmaColor (0-255 levels) at decoder size
    smooth_space: tuple[float, float] = (1.5, 3.5)  # bilateral sigmaSpace (pixels) at decoder size
    enhance_p: float = 0.5  # share of clips sharpened after decoding (GFPGAN-like enhancer)
    enhance_amount: tuple[float, float] = (0.3, 0.8)  # unsharp-mask gain
    paste_p: float = 0.5  # share of clips pasted into the still source (SadTalker ``full``), else whole
    feather: tuple[float, float] = (0.04, 0.10)  # paste seam width, fraction of the crop size
    upsample: tuple[int, ...] = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)


@dataclass(frozen=True)
class RenderLook:
    """One clip's decoder look (``draw_render``)."""

    render_share: float
    smooth_colour: float
    smooth_space: float
    enhance: float  # 0: no enhancer
    paste: bool
    feather: float
    upsample: int


def draw_render(rng: np.random.Generator, config: RerenderConfig | None = None) -> RenderLook:
    cfg = config or RerenderConfig()
    enhance = float(rng.uniform(*cfg.enhance_amount)) if rng.random() < cfg.enhance_p else 0.0
    return RenderLook(
        render_share=float(rng.uniform(*cfg.render_share)),
        smooth_colour=float(rng.uniform(*cfg.smooth_colour)),
        smooth_space=float(rng.uniform(*cfg.smooth_space)),
        enhance=enhance,
        paste=bool(rng.random() < cfg.paste_p),
        feather=float(rng.uniform(*cfg.feather)),
        upsample=cfg.upsample[int(rng.integers(len(cfg.upsample)))],
    )


def decode_like(image: np.ndarray, look: RenderLook) -> np.ndarray:
    """``image`` (uint8 HxWx3) as a decoder at ``look.render_share`` of its size would draw it."""
    h, w = image.shape[:2]
    side = (max(16, round(w * look.render_share)), max(16, round(h * look.render_share)))
    small = cv2.resize(image, side, interpolation=cv2.INTER_AREA)
    small = cv2.bilateralFilter(small, -1, look.smooth_colour, look.smooth_space)
    out = cv2.resize(small, (w, h), interpolation=look.upsample)
    if look.enhance > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.0).astype(np.float32)
        out = np.round(np.clip(out.astype(np.float32) * (1 + look.enhance) - soft * look.enhance, 0, 255))
    return np.asarray(out, np.uint8)


def rerender_frame(
    frame: np.ndarray, landmarks: np.ndarray, still: np.ndarray, look: RenderLook
) -> tuple[np.ndarray, np.ndarray]:
    """One talking-head output frame from an animated ``frame`` (with its (68, 2) ``landmarks``):
    (fake uint8 HxWx3, mask float32 HxW of what was redrawn). Pasted looks keep ``still`` (the
    unwarped source crop) outside a feathered whole-face hull; whole looks redraw every pixel."""
    rendered = decode_like(frame, look)
    h, w = frame.shape[:2]
    if not look.paste:
        return rendered, np.ones((h, w), np.float32)
    mask = hull_mask((h, w), landmarks, "extended")
    sigma = max(look.feather * max(h, w), 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask = np.clip(mask / max(float(mask.max()), 1e-6), 0, 1).astype(np.float32)
    m = mask[..., None]
    fake = rendered.astype(np.float32) * m + np.asarray(still, np.float32) * (1 - m)
    return np.clip(np.round(fake), 0, 255).astype(np.uint8), mask
