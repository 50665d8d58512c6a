"""ACMF's masked high-frequency representation (Liu, Chen, Peng, Wang, Hu, Gao, "Attention
Consistency Refined Masked Frequency Forgery Representation for Generalizing Face Forgery
Detection", IEEE TIFS 2024; code: chenboluo/ACMF, ``get_hai`` / ``_get_``).

Randomly discarding part of the high-frequency content stops a detector from relying on any one
high-frequency artefact. As in the released code, per channel: ``F = fftshift(fft2(x))``; zero a
``d`` x ``d`` square of the lowest frequencies (d = 10 there); ``x_h = |Re(ifft2(F))|`` (the
absolute value is the code's); ``x_l = x - x_h``; a random *spatial* pixel mask
``M = U(0, 1) > drop`` shared by the channels; the representation is ``x_h * M + x_l``: unchanged
where kept, ``x - x_h`` where dropped. Differences: ``drop`` is drawn per image from a range
(the code uses one fixed ``mask_rate``, 0.1 in its scripts, and shares ``M`` across a batch;
:func:`mask_high_frequency_pair` shares it between a real and its fake); values are on the 0-255
scale (the code works on 0-1 tensors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HFMasked:
    """``image``: float32 HxWx3 on the 0-255 scale, *not* clipped (dropped pixels may dip below 0;
    clip to uint8 only to save it); ``mask``: the forgery mask passed through (None for a real);
    ``dropped``: bool HxW, the high-pass pixels discarded; ``source``: the input image."""

    image: np.ndarray
    mask: np.ndarray | None
    dropped: np.ndarray
    source: np.ndarray

    def to_uint8(self) -> np.ndarray:
        return np.clip(self.image + 0.5, 0, 255).astype(np.uint8)


def high_pass(image: np.ndarray, d: int = 10, absolute: bool = True) -> np.ndarray:
    """ACMF's ``x_h``: |inverse FFT| after zeroing the centred ``d`` x ``d`` low-frequency square
    (``absolute=False``: the signed high pass, so that ``x - x_h`` is exactly the low pass)."""
    x = np.asarray(image, np.float32)
    h, w = x.shape[:2]
    spec = np.fft.fftshift(np.fft.fft2(x, axes=(0, 1)), axes=(0, 1))
    cy, cx, r = h // 2, w // 2, d // 2
    spec[cy - r : cy + d - r, cx - r : cx + d - r] = 0
    x_h = np.real(np.fft.ifft2(np.fft.ifftshift(spec, axes=(0, 1)), axes=(0, 1)))
    return (np.abs(x_h) if absolute else x_h).astype(np.float32)


def _represent(image: np.ndarray, keep: np.ndarray, d: int, absolute: bool) -> np.ndarray:
    x = np.asarray(image, np.float32)
    x_h = high_pass(x, d, absolute)
    return x_h * keep[..., None] + (x - x_h)


def mask_high_frequency(
    image: np.ndarray,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    drop: float | tuple[float, float] = (0.3, 0.5),
    d: int = 10,
    absolute: bool = True,
) -> HFMasked:
    """The masked high-frequency representation of an RGB image; ``drop`` is the fraction of
    pixels whose high-pass value is discarded (a range is sampled uniformly); ``absolute`` as in
    :func:`high_pass` (True reproduces ACMF's code)."""
    rate = float(rng.uniform(*drop)) if isinstance(drop, tuple) else float(drop)
    if not 0 <= rate <= 1:
        raise ValueError(f"drop must be in [0, 1], got {rate}")
    keep = rng.random(image.shape[:2]) > rate
    return HFMasked(image=_represent(image, keep, d, absolute), mask=mask, dropped=~keep, source=image)


def mask_high_frequency_pair(
    real: np.ndarray,
    fake: np.ndarray,
    fake_mask: np.ndarray,
    rng: np.random.Generator,
    drop: float | tuple[float, float] = (0.3, 0.5),
    d: int = 10,
    absolute: bool = True,
) -> tuple[HFMasked, HFMasked]:
    """A real and its fake under the *same* drop mask (as ACMF shares it across a batch), so the
    drop pattern alone never tells them apart."""
    r = mask_high_frequency(real, rng, None, drop, d, absolute)
    return r, HFMasked(
        image=_represent(fake, ~r.dropped, d, absolute), mask=fake_mask, dropped=r.dropped, source=fake
    )
