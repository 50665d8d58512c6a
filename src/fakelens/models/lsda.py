"""LSDA (Yan et al., "Transcending Forgery Specificity with Latent Space Augmentation for
Generalizable Deepfake Detection", CVPR 2024): enlarge the *forgery* region of the latent space so the
decision boundary is not fitted to the few forgeries seen in training.

``augment_fakes`` makes new fake features from the pooled features of a batch's fakes: Gaussian
noise scaled by the features' spread, channel dropout, interpolation towards / extrapolation away
from the running fake centroid, and mixing two fakes (LSDA mixes forgeries of different *types*;
with one training forgery it mixes two of its samples). The classifier head must call them fake
(``train.strategy: lsda``, ``train/strategies.py``).

Why LSDA and not UCF: UCF disentangles forgery-common and forgery-specific features with a
reconstruction decoder and needs several labelled forgery types; fakelens trains on one (SBI), so the
"specific" branch would have nothing to separate, and the decoder roughly doubles CPU cost. LSDA
works on pooled features: about one extra linear layer per step.

Differs from the paper: no per-forgery-type teacher distillation (one training forgery type), and
EfficientNet-Lite0 instead of EfficientNet-B4 (the ImageNet weights reachable offline).
"""

from __future__ import annotations

import torch

from fakelens.models.efficientnet import ForgeryClassifier, sbi_effnet_lite0


def augment_fakes(
    feats: torch.Tensor, centroid: torch.Tensor | None, generator: torch.Generator, noise: float = 0.5
) -> torch.Tensor:
    """(N, D) fake features -> (N, D) augmented fake features, one random augmentation per row."""
    n, _ = feats.shape
    kind = torch.randint(0, 4, (n,), generator=generator)
    spread = feats.std(dim=0, keepdim=True).clamp_min(1e-6) if n > 1 else feats.abs().mean().expand_as(feats)
    out = feats.clone()
    gauss = kind == 0
    out[gauss] = feats[gauss] + noise * spread * torch.randn(
        int(gauss.sum()), feats.shape[1], generator=generator
    )
    drop = kind == 1
    keep = (torch.rand(int(drop.sum()), feats.shape[1], generator=generator) > 0.2).to(feats.dtype)
    out[drop] = feats[drop] * keep / 0.8
    shift = kind == 2
    if centroid is not None:  # beta < 0 pulls towards the centroid, > 0 pushes outwards
        beta = torch.empty(int(shift.sum()), 1).uniform_(-0.5, 0.5, generator=generator)
        out[shift] = feats[shift] + beta * (feats[shift] - centroid)
    mix = kind == 3
    partner = feats[torch.randint(0, n, (int(mix.sum()),), generator=generator)]
    lam = torch.empty(int(mix.sum()), 1).uniform_(0.0, 1.0, generator=generator)
    out[mix] = lam * feats[mix] + (1 - lam) * partner
    return out


def lsda_effnet_lite0(pretrained: bool = False, drop_rate: float = 0.2) -> ForgeryClassifier:
    """LSDA's classifier: an ordinary one-logit network; the method lives in its training."""
    return sbi_effnet_lite0(pretrained=pretrained, drop_rate=drop_rate)
