"""ACMF (Liu et al., "Attention Consistency Refined Masked Frequency Forgery Representation for
Generalizing Face Forgery Detection", TIFS 2024): the two mechanisms, as torch functions.

1. *Masked high-frequency representation*: ``x_h = |Re(ifft(F(x) with a (2r)x(2r) low-frequency
   square zeroed))|``, ``x_l = x - x_h``; a random share of the *pixels* of ``x_h`` is dropped (one
   spatial mask for the whole batch, as the released code does) and the network trains on
   ``x_h * M + x_l``, so it cannot lean on any one high-frequency artefact.
2. *Attention consistency*: MSE between the batch-mean Grad-CAM map of the model and that of a
   frozen copy; gradients reach the weights through the activations only (the CAM's channel weights
   are detached, as in the released ``grad_cam.py``).

How fakelens uses them (``train.strategy: acmf``, ``train/strategies.py``): stage 1 trains on masked
inputs; from ``acmf.stage1_epochs`` on, a frozen copy of the stage-1 model anchors the attention of
the masked view to that of the clean view (*training-time* consistency). The paper's second stage
instead adapts to each unlabelled *test* batch; fakelens offers that only as an explicit opt-in
(``fakelens evaluate --tta acmf``, ``evaluate/tta.py``), and reports say so.

Differs from the paper: EfficientNet-Lite0 (the ImageNet weights reachable offline) instead of
Xception; one logit (the CAM follows the predicted class: ``|logit|``) instead of two softmax outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fakelens.models.efficientnet import ForgeryClassifier, sbi_effnet_lite0


def high_pass(x: torch.Tensor, radius: int = 5, absolute: bool = True) -> torch.Tensor:
    """``|Re(ifft2(ifftshift(fftshift(fft2(x)) * mask)))|`` with the centred (2r)x(2r) square zeroed."""
    h, w = x.shape[-2:]
    spec = torch.fft.fftshift(torch.fft.fft2(x.float()), dim=(-2, -1))
    cy, cx = h // 2, w // 2
    spec[..., cy - radius : cy + radius, cx - radius : cx + radius] = 0
    out = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real
    return out.abs() if absolute else out


def masked_high_frequency(
    x: torch.Tensor, drop: float, radius: int = 5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x_h * M + x_l`` with one random pixel mask ``M`` (share ``drop`` zeroed) for the batch."""
    x_h = high_pass(x, radius)
    keep = (torch.rand(x.shape[-2:], generator=generator) > drop).to(x.dtype)
    return (x_h * keep + (x - x_h)).contiguous(memory_format=torch.channels_last)


def mean_grad_cam(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, batch-mean Grad-CAM map) from one forward pass. The map is differentiable with
    respect to the activations; its channel weights (pooled gradients) are constants."""
    feats = model.forward_features(x)
    if not feats.requires_grad:  # a frozen teacher: its map is a constant target anyway
        feats = feats.detach().requires_grad_(True)
    logits = model.forward_head(feats)
    grads = torch.autograd.grad((logits * torch.sign(logits).detach()).sum(), feats, retain_graph=True)[0]
    cam = F.relu((grads.detach().mean(dim=(2, 3), keepdim=True) * feats).sum(dim=1))
    flat = cam.flatten(1)
    lo, hi = flat.min(dim=1, keepdim=True)[0], flat.max(dim=1, keepdim=True)[0]
    cam = ((flat - lo) / (hi - lo + 1e-6)).view_as(cam)
    return logits, cam.mean(dim=0)


def attention_consistency(student_cam: torch.Tensor, teacher_cam: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(student_cam, teacher_cam.detach())


def acmf_effnet_lite0(pretrained: bool = False, drop_rate: float = 0.2) -> ForgeryClassifier:
    """ACMF's classifier: an ordinary one-logit network; the method lives in its training."""
    return sbi_effnet_lite0(pretrained=pretrained, drop_rate=drop_rate)
