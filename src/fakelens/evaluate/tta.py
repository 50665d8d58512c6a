"""Opt-in test-time adaptation: ACMF's second stage (Liu et al., TIFS 2024), as the released code runs it.

For every batch of test faces the model is reset to its trained weights, then takes ``steps``
optimiser steps on a *source* batch (labelled real faces and their SBI fakes, masked high frequency,
flooded BCE: ``|bce - b| + b``) plus the attention-consistency loss between the batch-mean Grad-CAM of
the model on the **unlabelled test batch** and that of the frozen trained model on the source batch;
then it scores the test batch. It uses the test data (transductively, without labels), so a result
obtained with it is not comparable with ordinary evaluations: ``fakelens evaluate --tta acmf`` writes
``test_time_adaptation`` into config.json and says so on screen.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from fakelens.models.acmf import attention_consistency, masked_high_frequency, mean_grad_cam
from fakelens.models.scorer import Scorer, batched
from fakelens.models.torch_backend import TorchScorer, logits_of, pooled_features

TTA_NOTE = "ACMF attention-consistency test-time adaptation: adapts to each unlabelled test batch"


def source_pairs(
    folder: str | Path, face, limit: int = 64, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(real crop, its SBI fake) for up to ``limit`` real photos of the training domain: a folder of
    them, or a ``splits.json`` (or the run/checkpoint folder holding one), whose *training* reals are
    used, so that no held-out face leaks into the adaptation."""
    from fakelens.data.facecache import build_faceset
    from fakelens.data.splits import SPLITS_FILE, checkpoint_splits, read_splits
    from fakelens.forge.sbi import self_blend
    from fakelens.media.kinds import IMAGE_EXTENSIONS

    folder = Path(folder)
    if folder.name == SPLITS_FILE:
        files = read_splits(folder).files("train")[:limit]
    elif (folder / SPLITS_FILE).is_file() or (folder.parent / SPLITS_FILE).is_file():
        files = checkpoint_splits(folder).files("train")[:limit]
    else:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)[:limit]
    faces = build_faceset(files, face)
    if len(faces) < 2:
        raise ValueError(f"--tta-source '{folder}': need at least 2 real faces, found {len(faces)}")
    rng = np.random.default_rng(seed)
    out = []
    for crop, lm in zip(faces.crops, faces.landmarks, strict=True):
        blend = self_blend(crop, lm, rng)
        out.append((blend.target, blend.fake))
    return out


@dataclass
class AttentionConsistencyTTA:
    """A ``Scorer`` wrapping a PyTorch one: each batch is scored by a copy adapted to that batch.

    It holds the trained scorer (``base``), never changes it, and takes its preprocessing, framing,
    threshold and batch size from it. Heat maps (``model``) show the trained, unadapted network.
    """

    base: TorchScorer
    source: list = field(default_factory=list, repr=False)
    steps: int = 1
    lr: float = 1e-3
    flood: float = 0.04
    source_batch: int = 8
    drop: float = 0.1
    seed: int = 0
    name: str = ""
    backend: ClassVar[str] = "torch"
    can_explain: ClassVar[bool] = True

    def __post_init__(self):
        self.name = self.name or f"{self.base.name}+tta-acmf"
        self.tta_report = {
            "mode": "acmf",
            "note": TTA_NOTE,
            "steps": self.steps,
            "lr": self.lr,
            "source_faces": len(self.source),
        }

    @classmethod
    def wrap(cls, detector: Scorer, source: list, **options) -> AttentionConsistencyTTA:
        if detector.backend != "torch" or not isinstance(getattr(detector, "model", None), torch.nn.Module):
            raise ValueError("test-time adaptation needs the torch backend (--backend torch)")
        return cls(base=detector, source=source, **options)

    model = property(lambda self: self.base.model)
    preprocess = property(lambda self: self.base.preprocess)
    face = property(lambda self: self.base.face)
    framing = property(lambda self: self.base.face)
    config = property(lambda self: self.base.config)
    threshold = property(lambda self: self.base.threshold)
    batch_size = property(lambda self: self.base.batch_size)

    def _source_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = rng.choice(len(self.source), size=min(self.source_batch, len(self.source)), replace=False)
        crops = [c for i in pick for c in self.source[i]]
        return self.preprocess.to_tensor(crops), torch.tensor([0.0, 1.0] * len(pick))

    def predict_proba(self, crops: list[np.ndarray], kind: str = "image") -> np.ndarray:
        def run(batch, offset):
            model, target = self._adapt(batch, offset)
            with torch.inference_mode():
                return torch.sigmoid(logits_of(model, target, kind).float()).numpy()

        return batched(crops, self.batch_size, run)

    def features(self, crops: list[np.ndarray]) -> np.ndarray:
        """The adapted copy's pooled features: the same adaptation as ``predict_proba`` (same seeds)."""

        def run(batch, offset):
            model, target = self._adapt(batch, offset)
            with torch.inference_mode():
                return pooled_features(model, target).float().reshape(len(batch), -1).numpy()

        return batched(crops, self.batch_size, run, empty=(0, 0))

    def _adapt(self, crops: list[np.ndarray], offset: int) -> tuple[torch.nn.Module, torch.Tensor]:
        """A copy of the trained model adapted to this batch, and the batch as network input."""
        rng = np.random.default_rng([self.seed, offset, len(crops)])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        model = copy.deepcopy(self.model).eval()  # BatchNorm keeps its statistics: test batches are small
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, betas=(0.9, 0.95))
        target = self.preprocess.to_tensor(crops)
        with torch.enable_grad():
            for _ in range(self.steps):
                xs, ys = self._source_batch(rng)
                _, anchor = mean_grad_cam(self.model, xs)  # the frozen trained model on source faces
                bce = F.binary_cross_entropy_with_logits(
                    model(masked_high_frequency(xs, self.drop, generator=gen)), ys
                )
                _, cam = mean_grad_cam(model, target)
                loss = (bce - self.flood).abs() + self.flood + attention_consistency(cam, anchor)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return model, target
