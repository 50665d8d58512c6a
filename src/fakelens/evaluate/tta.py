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

import numpy as np
import torch
import torch.nn.functional as F

from fakelens.models.acmf import attention_consistency, masked_high_frequency, mean_grad_cam
from fakelens.models.detector import Detector

TTA_NOTE = "ACMF attention-consistency test-time adaptation: adapts to each unlabelled test batch"


def source_pairs(
    folder: str | Path, face, limit: int = 64, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(real crop, its SBI fake) for up to ``limit`` real photos in ``folder`` (the training domain)."""
    from fakelens.data.facecache import build_faceset
    from fakelens.forge.sbi import self_blend
    from fakelens.media.kinds import IMAGE_EXTENSIONS

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)[:limit]
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
class AttentionConsistencyTTA(Detector):
    source: list = field(default_factory=list)
    steps: int = 1
    lr: float = 1e-3
    flood: float = 0.04
    source_batch: int = 8
    drop: float = 0.1
    seed: int = 0

    @classmethod
    def wrap(cls, detector: Detector, source: list, **options) -> AttentionConsistencyTTA:
        if detector.backend != "torch":
            raise ValueError("test-time adaptation needs the torch backend (--backend torch)")
        tta = cls(
            model=detector.model,
            preprocess=detector.preprocess,
            face=detector.face,
            threshold=detector.threshold,
            name=f"{detector.name}+tta-acmf",
            config=detector.config,
            source=source,
            **options,
        )
        tta.tta_report = {
            "mode": "acmf",
            "note": TTA_NOTE,
            "steps": tta.steps,
            "lr": tta.lr,
            "source_faces": len(source),
        }
        return tta

    def _source_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = rng.choice(len(self.source), size=min(self.source_batch, len(self.source)), replace=False)
        crops = [c for i in pick for c in self.source[i]]
        return self.preprocess.to_tensor(crops), torch.tensor([0.0, 1.0] * len(pick))

    def predict_proba(self, crops: list[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32)
        out = []
        for i in range(0, len(crops), self.batch_size):
            out.append(self._adapt_and_score(crops[i : i + self.batch_size], i))
        return np.concatenate(out)

    def _adapt_and_score(self, crops: list[np.ndarray], offset: int) -> np.ndarray:
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
        with torch.inference_mode():
            return torch.sigmoid(model(target).float()).numpy()
