"""FreDA, the frequency data augmentation of the quality-centric framework (Song, Yan et al.,
"Not All Fakes are Equal: A Quality-Centric Framework for Deepfake Detection", arXiv 2411.05335).

The paper trains on easy (low-quality) fakes only after FreDA has made them more realistic:
``F_a = F_r * M + F_f * (1 - M)``, ``x_a = iFFT(F_a)``, with ``F_r``/``F_f`` the Fourier
transforms of a real face and of the fake, and ``M`` a binary mask selecting the *low* frequencies.
So the augmented fake keeps the real's low frequencies (overall colour, shading, coarse shape,
where easy fakes show their obvious colour/blending mismatches) and the fake's high frequencies
(the fine forgery traces a detector should learn). No code is public; the formula is from the
paper's summary (see the project's METHODS.md). Choices made here, not confirmable: ``M`` is a
centred disc of radius ``cutoff`` x half the shorter side of the (shifted) spectrum, applied to
every RGB channel; the result is rounded to uint8. The real donor should be the fake's own paired
real (for a face swap: its target), so that the low frequencies agree with the rest of the picture.
Not implemented: the paper's Forgery Quality Score (ArcFace similarity + model feedback) and its
curriculum, which choose *which* fakes are easy enough for FreDA; ``fakelens synth`` applies it to
every face swap it makes.
"""

from __future__ import annotations

import numpy as np

from fakelens.forge.faceswap import Forgery


def lowpass_mask(shape: tuple[int, int], cutoff: float) -> np.ndarray:
    """Binary disc over the *unshifted* FFT grid: frequencies with radius <= ``cutoff`` x min(H, W) / 2."""
    if not 0 < cutoff <= 1:
        raise ValueError(f"cutoff must be in (0, 1], got {cutoff}")
    h, w = shape
    fy = np.fft.fftfreq(h) * h  # integer frequency indices, symmetric around 0
    fx = np.fft.fftfreq(w) * w
    radius = np.hypot(fy[:, None], fx[None, :])
    return radius <= cutoff * min(h, w) / 2


def frequency_split(image: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float32 parts of an HxWxC image with ``low + high == image``."""
    x = np.asarray(image, np.float32)
    spec = np.fft.fft2(x, axes=(0, 1))
    keep = lowpass_mask(x.shape[:2], cutoff)[..., None]
    low = np.real(np.fft.ifft2(spec * keep, axes=(0, 1))).astype(np.float32)
    return low, x - low


def freda_mix(fake: np.ndarray, real: np.ndarray, mask: np.ndarray, cutoff: float = 0.1) -> Forgery:
    """Low frequencies of ``real`` + high frequencies of ``fake`` (same-size RGB uint8 images).

    ``mask`` (the fake's manipulation mask) passes through. Outside it the output differs from the
    real only by the high-passed forgery, which the ideal (disc) filter spreads as faint ringing
    near the mask's edge; inside it the fake's high-frequency content remains."""
    if fake.shape != real.shape:
        raise ValueError(f"fake {fake.shape} and real {real.shape} differ in size")
    keep = lowpass_mask(fake.shape[:2], cutoff)[..., None]
    spec = np.fft.fft2(real.astype(np.float32), axes=(0, 1)) * keep + np.fft.fft2(
        fake.astype(np.float32), axes=(0, 1)
    ) * (~keep)
    out = np.real(np.fft.ifft2(spec, axes=(0, 1)))
    return Forgery(fake=np.clip(out + 0.5, 0, 255).astype(np.uint8), mask=mask, target=real)


def freda_forgery(
    forgery: Forgery, rng: np.random.Generator, cutoff: tuple[float, float] = (0.05, 0.15)
) -> Forgery:
    """FreDA of a forgery with its own ``target`` as the real donor; the radius is drawn from ``cutoff``."""
    return freda_mix(forgery.fake, forgery.target, forgery.mask, float(rng.uniform(*cutoff)))
