"""ACMF (Liu et al., "Attention Consistency Refined Masked Frequency Forgery Representation for
Generalizing Face Forgery Detection", TIFS 2024): the two mechanisms, as torch functions.

1. *Masked high-frequency representation*: ``x_h = |Re(ifft(F(x) with a (2r)x(2r) low-frequency
   square zeroed))|``, ``x_l = x - x_h``; a random share of the *pixels* of ``x_h`` is dropped (one
   spatial mask for the whole batch, as the released code does) and the network trains on
   ``x_h * M + x_l``, so it cannot lean on any one high-frequency artefact.
2. *Attention consistency*: MSE between the batch-mean Grad-CAM map of the model and that of a
   frozen copy; gradients reach the weights through the activations only (the CAM's channel weights
   are detached, as in the released ``grad_cam.py``).

How fakelens uses them (``method: {name: acmf}``, the ``ACMF`` method below, on any architecture with
``forward_features``/``forward_head``): stage 1 trains on masked inputs; from ``stage1_epochs`` on, a
frozen copy of the stage-1 model anchors the attention of the masked view to that of the clean view
(*training-time* consistency). The paper's second stage instead adapts to each unlabelled *test* batch;
fakelens offers that only as an explicit opt-in (``fakelens evaluate --tta acmf``, ``evaluate/tta.py``),
and reports say so.

Differs from the paper: the recipe trains EfficientNet-Lite0 (``sbi-effnet-lite0``, the ImageNet weights
reachable offline) instead of Xception; one logit (the CAM follows the predicted class: ``|logit|``)
instead of two softmax outputs.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fakelens.models.methods import Method, register_method


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


class AcmfOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop: tuple[float, float] = (0.1, 0.5)  # share of high-pass pixels dropped, drawn per batch
    radius: int = Field(5, ge=1)  # half-side of the zeroed low-frequency square
    stage1_epochs: int = Field(3, ge=0)  # epochs before the frozen teacher is taken
    weight: float = Field(1.0, ge=0)  # of the attention-consistency loss

    @field_validator("drop")
    @classmethod
    def _ordered_share(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] < 1:
            raise ValueError("needs 0 <= low <= high < 1")
        return v


@register_method("acmf", options=AcmfOptions, requires=("forward_features", "forward_head"))
class ACMF(Method):
    """Masked high-frequency BCE; after stage 1, plus attention consistency with a frozen copy."""

    multi_process = False  # it calls the model's parts (forward_features, head) itself

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.teacher: torch.nn.Module | None = None
        self._saved: dict[str, torch.Tensor] | None = None  # a resumed run's stage-1 teacher
        self.generator = torch.Generator()

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        self.generator.manual_seed(self.seed * 7919 + epoch)
        if self.teacher is not None or epoch < self.opts.stage1_epochs:
            return
        teacher = copy.deepcopy(model).eval()
        if self._saved is not None:  # the teacher is the stage-1 model, not today's weights
            teacher.load_state_dict(self._saved)
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.teacher = teacher

    def loss(self, model, batch):
        x, y = batch["image"], batch["label"]
        lo, hi = self.opts.drop
        drop = lo + (hi - lo) * float(torch.rand((), generator=self.generator))
        masked = masked_high_frequency(x, drop, self.opts.radius, self.generator)
        if self.teacher is None:
            return F.binary_cross_entropy_with_logits(model(masked), y)
        logits, cam = mean_grad_cam(model, masked)
        _, target = mean_grad_cam(self.teacher, x)  # the clean view, as the stage-1 model sees it
        bce = F.binary_cross_entropy_with_logits(logits, y)
        return bce + self.opts.weight * attention_consistency(cam, target)

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.teacher is None:
            return {}
        return {f"teacher.{k}": v.detach().clone().contiguous() for k, v in self.teacher.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        teacher = {k.removeprefix("teacher."): v for k, v in state.items() if k.startswith("teacher.")}
        self._saved = teacher or None
