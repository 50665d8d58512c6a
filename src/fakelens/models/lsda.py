"""LSDA-style latent augmentation, after LSDA (Yan et al., "Transcending Forgery Specificity with
Latent Space Augmentation for Generalizable Deepfake Detection", CVPR 2024): enlarge the *forgery*
region of the latent space so the decision boundary is not fitted to the few forgeries seen in
training. Not LSDA itself: see the differences below.

``augment_fakes`` makes new fake features from the pooled features of a batch's fakes: Gaussian
noise scaled by the features' spread, channel dropout, interpolation towards / extrapolation away
from the running fake centroid, and mixing two fakes (LSDA mixes forgeries of different *types*;
with one training forgery it mixes two of its samples). The classifier head must call them fake
(``method: {name: lsda}``, the ``LatentAugmentation`` method below: any architecture with
``forward_features``, ``forward_head``, ``drop`` and ``head``).

Why LSDA and not UCF: UCF disentangles forgery-common and forgery-specific features with a
reconstruction decoder and needs several labelled forgery types; fakelens trains on one (SBI), so the
"specific" branch would have nothing to separate, and the decoder roughly doubles CPU cost. LSDA
works on pooled features: about one extra linear layer per step.

Differs from the official code (DeepfakeBench ``training/detectors/lsda_detector.py``):

- no teachers and no distillation: LSDA trains one EfficientNet-B4 teacher per forgery type (FF++
  DF/F2F/FS/NT) and a real encoder, augments the *teachers'* fake features, fuses them with a conv
  block, and distils the student's features to them (MSE); here the student's own features are
  augmented and the head must call them fake (BCE, weight 0.5);
- no domain head (LSDA: a 5-way real/forgery-type classifier on the teacher features) and no
  real-feature cosine constraint; LSDA's loss is 0.5 CE + distillation + domain CE + real constraint;
- augmentations act on pooled (D,) vectors, not 512x8x8 feature maps, and differ: here noise is
  scaled by the batch spread, channel dropout is added, interpolation/extrapolation use a running
  fake centroid (LSDA: towards the domain's hardest sample / away from the domain mean), two fakes
  mix with U(0, 1) (LSDA: Beta(a, a) mixup across forgery types), and LSDA's difference transform
  ``z + l (z_j - z_k)`` is absent: with one training forgery type (SBI) there are no types to mix;
- EfficientNet-Lite0 instead of EfficientNet-B4 (the ImageNet weights reachable offline).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from fakelens.models.methods import Method, register_method


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


class LsdaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = Field(0.5, ge=0)  # of the loss on augmented fake features
    noise: float = Field(0.5, ge=0)  # Gaussian noise, in units of the features' spread
    centroid_momentum: float = Field(0.9, ge=0, lt=1)


@register_method("lsda", options=LsdaOptions, requires=("forward_features", "forward_head", "drop", "head"))
class LatentAugmentation(Method):
    """LSDA-style latent augmentation: BCE, plus the fakes' pooled features, augmented, must still
    be called fake by the head (no teachers, distillation or domain head: see the module)."""

    multi_process = False  # it calls the model's parts (forward_features, head) itself

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.centroid: torch.Tensor | None = None
        self.generator = torch.Generator()

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        self.generator.manual_seed(self.seed * 7919 + epoch)

    def loss(self, model, batch):
        x, y = batch["image"], batch["label"]
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
        logits = model.head(model.drop(pooled)).squeeze(1)
        bce = F.binary_cross_entropy_with_logits(logits, y)
        fakes = pooled[y > 0]
        if len(fakes) == 0:
            return bce
        batch_mean = fakes.detach().mean(dim=0)
        m = self.opts.centroid_momentum
        self.centroid = batch_mean if self.centroid is None else m * self.centroid + (1 - m) * batch_mean
        aug = augment_fakes(fakes, self.centroid, self.generator, self.opts.noise)
        aug_logits = model.head(model.drop(aug)).squeeze(1)
        return bce + self.opts.weight * F.binary_cross_entropy_with_logits(
            aug_logits, torch.ones_like(aug_logits)
        )

    def state_dict(self) -> dict[str, torch.Tensor]:  # the running centroid continues after a resume
        return {} if self.centroid is None else {"centroid": self.centroid.clone().contiguous()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.centroid = state.get("centroid")
