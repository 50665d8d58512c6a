"""A linear probe on the face's radial power spectrum (``spectrum-probe``), issue 12's frequency branch.

Generators up-sample, and up-sampling leaves its mark in the high frequencies of the spectrum:
Durall et al. (CVPR 2020, "Watch your Up-Convolution") separate real from GAN faces with a linear
classifier on the azimuthally averaged power spectrum; Dzanic et al. (NeurIPS 2020) find the same
decay discrepancy for many generators. The stage probe (models/probe.py) reads what an ImageNet
network sees and transfers badly to a diffusion model it never saw; the spectrum is a different
cue, and on issue 12's validation-only leave-one-family-out the two fused by ``max`` of standardised
scores lift the unseen-family mean from 0.77 to 0.84 (Stable Diffusion 0.50 -> 0.79; docs/benchmarks.md).

Mechanism as Durall et al.: grey image -> 2-D DFT -> power -> mean over rings of equal radius ->
a 1-D profile -> logistic regression. Differences: the profile is of the model's 224 px
preprocessed face crop (every training face first through the photo pipeline, as the probe
recipe does), a Hann window removes the crop border's spectral cross, the log profile is taken
relative to its lowest bands (exposure and contrast drop out), the rings above the Nyquist circle
(the corners) are dropped, and the DFT is two fixed cos/sin matrix products so that the ONNX graph
needs no FFT operator. The head is fitted by ``method: linear-probe`` (train/probe.py).

``forward_features`` returns the profile broadcast over a fixed 7x7 grid (the Lite members' grid at
224 px), so the global mean ``forward_head`` takes is the profile itself and an ensemble pools it
beside the other members without coarsening their maps; it has no spatial map to explain, so its
Grad-CAM is flat.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

GREY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma


def ring_index(size: int, bins: int) -> torch.Tensor:
    """(size, size) ring number of every DFT coefficient; ``bins`` for those past the Nyquist circle."""
    k = torch.arange(size)
    f = torch.minimum(k, size - k).float()  # unshifted DFT index -> |frequency|
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    return torch.clamp((radius / (size / 2) * bins).long(), max=bins)


class SpectrumProbe(nn.Module):
    def __init__(self, size: int = 224, bins: int = 48, reference_bins: int = 4, drop_rate: float = 0.0):
        super().__init__()
        if not 0 < reference_bins < bins:
            raise ValueError(f"reference_bins must be between 1 and bins - 1, not {reference_bins}")
        self.size, self.bins, self.reference_bins = size, bins, reference_bins
        n = torch.arange(size, dtype=torch.float64)
        angle = 2 * math.pi * torch.outer(n, n) / size
        hann = torch.hann_window(size, periodic=False, dtype=torch.float64)
        ring = ring_index(size, bins).flatten()
        rings = F.one_hot(ring, bins + 1)[:, :bins].double()  # (size*size, bins); corners dropped
        # computed, not stored: the weights file holds the head only
        self.register_buffer("cos", torch.cos(angle).float(), persistent=False)
        self.register_buffer("sin", torch.sin(angle).float(), persistent=False)
        self.register_buffer("window", torch.outer(hann, hann).float(), persistent=False)
        self.register_buffer("ring_mean", (rings / rings.sum(0)).float(), persistent=False)
        self.register_buffer("grey", torch.tensor(GREY).view(1, 3, 1, 1), persistent=False)
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(bins, 1)
        self.num_features = bins

    def profile(self, x: torch.Tensor) -> torch.Tensor:
        """(N, bins) log power per ring, relative to the mean of the ``reference_bins`` lowest rings."""
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        g = (x * self.grey).sum(dim=1)
        g = (g - g.mean(dim=(1, 2), keepdim=True)) * self.window
        c, s = self.cos, self.sin
        cg, sg = c @ g, s @ g  # the DFT matrices are symmetric: W = C - iS, X = W g W
        real = cg @ c - sg @ s
        imag = cg @ s + sg @ c  # (up to sign, which the power drops)
        power = (real * real + imag * imag).flatten(1)
        log_ring = torch.log(power @ self.ring_mean + 1e-8)
        return log_ring - log_ring[:, : self.reference_bins].mean(dim=1, keepdim=True)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.profile(x)[:, :, None, None].expand(-1, -1, 7, 7)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        if pre_logits:
            return pooled
        return self.head(self.drop(pooled)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def spectrum_probe(
    pretrained: bool = False, drop_rate: float = 0.0, size: int = 224, bins: int = 48
) -> SpectrumProbe:
    """Registry builder; nothing is pretrained (the profile is fixed arithmetic)."""
    return SpectrumProbe(size=size, bins=bins, drop_rate=drop_rate)
