"""Training strategies: how a batch becomes a loss (``train.strategy`` in a recipe).

``plain`` is BCE. ``acmf`` (models/acmf.py) masks high frequencies and, after stage 1, adds
attention consistency to a frozen stage-1 teacher. ``quality`` lives in train/quality.py; ``lsda``
augments the fakes' pooled features (models/lsda.py); ``fidelity`` regresses DeepFidelity's
quality-mapped scores (models/deepfidelity.py). Resuming: ACMF's stage-1 teacher and the quality
scores are written into the run folder and read back; fidelity bounds are recomputed (deterministic);
LSDA's running fake centroid starts again (it settles within a few batches).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from fakelens.train.config import TrainConfig


class Plain:
    """Weighted BCE on the batch as it comes."""

    def __init__(self, cfg: TrainConfig, out: Path):
        self.cfg = cfg
        self.out = Path(out)

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        """Called before each epoch (also the first after a resume)."""

    def order(self, epoch: int, n: int) -> list[int] | None:
        """The epoch's item order (a curriculum samples); None: a plain seeded shuffle."""
        return None

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch's training steps (a strategy persists its state here)."""

    def loss(self, model, x: torch.Tensor, y: torch.Tensor, index=None) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model(x), y)

    def report(self) -> dict:
        """What the checkpoint's config records about the strategy."""
        return {"name": "plain"}


class ACMF(Plain):
    TEACHER = "acmf-teacher.safetensors"

    def __init__(self, cfg: TrainConfig, out: Path):
        super().__init__(cfg, out)
        self.opts = cfg.acmf
        self.teacher: torch.nn.Module | None = None
        self.generator = torch.Generator()

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        self.generator.manual_seed(self.cfg.train.seed * 7919 + epoch)
        if self.teacher is not None or epoch < self.opts.stage1_epochs:
            return
        teacher = copy.deepcopy(model).eval()
        path = self.out / self.TEACHER
        if path.is_file():  # a resumed run: the teacher is the stage-1 model, not today's weights
            teacher.load_state_dict(load_file(str(path)))
        else:
            save_file({k: v.contiguous() for k, v in teacher.state_dict().items()}, str(path))
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.teacher = teacher

    def loss(self, model, x, y, index=None):
        from fakelens.models.acmf import attention_consistency, masked_high_frequency, mean_grad_cam

        lo, hi = self.opts.drop
        drop = lo + (hi - lo) * float(torch.rand((), generator=self.generator))
        masked = masked_high_frequency(x, drop, self.opts.radius, self.generator)
        if self.teacher is None:
            return F.binary_cross_entropy_with_logits(model(masked), y)
        logits, cam = mean_grad_cam(model, masked)
        _, target = mean_grad_cam(self.teacher, x)  # the clean view, as the stage-1 model sees it
        bce = F.binary_cross_entropy_with_logits(logits, y)
        return bce + self.opts.weight * attention_consistency(cam, target)

    def report(self) -> dict:
        return {"name": "acmf", **self.opts.model_dump(mode="json")}


class LatentAugmentation(Plain):
    """LSDA: fakes' pooled features, augmented, must still be called fake by the head."""

    def __init__(self, cfg: TrainConfig, out: Path):
        super().__init__(cfg, out)
        self.opts = cfg.lsda
        self.centroid: torch.Tensor | None = None
        self.generator = torch.Generator()

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        self.generator.manual_seed(self.cfg.train.seed * 7919 + epoch)

    def loss(self, model, x, y, index=None):
        from fakelens.models.lsda import augment_fakes

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

    def report(self) -> dict:
        return {"name": "lsda", **self.opts.model_dump(mode="json")}


class FidelityRegression(Plain):
    """DeepFidelity's score mapping: regress quality-scaled targets (models/deepfidelity.py)."""

    def __init__(self, cfg: TrainConfig, out: Path):
        super().__init__(cfg, out)
        self.bounds: tuple[float, float] | None = None

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        if self.bounds is not None:
            return
        from fakelens.models.deepfidelity import sharpness

        crops = dataset.faces.crops  # the quality range of the training reals, as they enter the model
        q = torch.cat(
            [
                sharpness(dataset.preprocess.to_tensor(list(crops[i : i + 64])))
                for i in range(0, len(crops), 64)
            ]
        )
        self.bounds = (float(torch.quantile(q, 0.01)), float(torch.quantile(q, 0.99)))

    def loss(self, model, x, y, index=None):
        from fakelens.models.deepfidelity import fidelity_targets, sharpness

        target = fidelity_targets(sharpness(x), y, *self.bounds)
        return ((torch.sigmoid(model(x)) - target) ** 2).mean()

    def report(self) -> dict:
        return {"name": "fidelity", "quality": "log variance of the Laplacian", "bounds": self.bounds}


class Hierarchical(Plain):
    """HFC-MFFD: 0.6 patch + 0.4 image BCE per branch, the fused level-1 BCE and, for fakes, the
    level-2 forgery type (0 = self-blend, 1 = ready-made), read from each image's place in its item."""

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        self.kinds = torch.tensor(dataset.kinds)  # 0 real, 1 self-blend, 2 ready-made

    def loss(self, model, x, y, index=None):
        out = model.branch_outputs(model.forward_features(x))
        patch = F.binary_cross_entropy_with_logits(out["patch"], y[:, None, None].expand_as(out["patch"]))
        image = F.binary_cross_entropy_with_logits(out["image"], y[:, None].expand_as(out["image"]))
        fused = F.binary_cross_entropy_with_logits(out["image"] @ torch.softmax(model.level1, dim=0), y)
        kind = self.kinds.repeat(len(y) // len(self.kinds)) - 1
        fake = y > 0
        level2 = (out["type"] * torch.softmax(model.level2, dim=0)[None, :, None]).sum(dim=1)
        types = F.cross_entropy(level2[fake], kind[fake]) if fake.any() else 0.0
        return 0.6 * patch + 0.4 * image + fused + types

    def report(self) -> dict:
        return {
            "name": "hierarchical",
            "patch_weight": 0.6,
            "image_weight": 0.4,
            "types": ["self-blend", "ready-made"],
        }


def make_strategy(cfg: TrainConfig, out: Path) -> Plain:
    name = cfg.train.strategy
    if name == "acmf":
        return ACMF(cfg, out)
    if name == "quality":
        from fakelens.train.quality import QualityCurriculum

        return QualityCurriculum(cfg, out)
    if name == "lsda":
        return LatentAugmentation(cfg, out)
    if name == "fidelity":
        return FidelityRegression(cfg, out)
    if name == "hierarchical":
        return Hierarchical(cfg, out)
    return Plain(cfg, out)
