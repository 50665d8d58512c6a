"""The PyTorch scorer: a network plus the preprocessing and face framing it was trained with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from fakelens.faces.pipeline import FaceConfig
from fakelens.models.scorer import VIDEO_KINDS, FeaturesUnavailable, batched
from fakelens.preprocess import Preprocess


def pooled_features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the head sees (``forward_head(forward_features(x), pre_logits=True)``), timm's contract."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


def uses_video_combination(model: torch.nn.Module, kind: str) -> bool:
    """Whether faces of this media kind go through the model's video combination (models/ensemble.py)."""
    return kind in VIDEO_KINDS and bool(getattr(model, "has_video_combination", False))


def logits_of(model: torch.nn.Module, x: torch.Tensor, kind: str = "image") -> torch.Tensor:
    return model(x, video=True) if uses_video_combination(model, kind) else model(x)


def has_features(model: torch.nn.Module) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("forward_features", "forward_head"))


@dataclass
class TorchScorer:
    """Scores aligned face crops in PyTorch: ``predict_proba(crops)`` -> p(fake) per crop (a ``Scorer``)."""

    model: torch.nn.Module
    preprocess: Preprocess
    face: FaceConfig
    threshold: float = 0.5
    name: str = "unnamed"
    config: dict = field(default_factory=dict)
    batch_size: int = 16  # measured: 8-32 within 5 % on a 10 s 1080p clip, 1 is ~20 % slower
    device: str = "cpu"  # "cuda" for a GPU worker (scan --engine ray --gpus-per-worker)
    backend: ClassVar[str] = "torch"
    can_explain: ClassVar[bool] = True  # the network is here, so Grad-CAM can run

    def __post_init__(self):
        self.model.eval()
        self.model.to(device=self.device, memory_format=torch.channels_last)

    def _input(self, batch) -> torch.Tensor:
        return self.preprocess.to_tensor(batch).to(self.device, non_blocking=True)

    @property
    def framing(self) -> FaceConfig:
        return self.face

    @torch.inference_mode()
    def predict_proba(self, crops: list[np.ndarray], kind: str = "image") -> np.ndarray:
        def run(batch, _offset):
            return torch.sigmoid(logits_of(self.model, self._input(batch), kind).float()).cpu().numpy()

        return batched(crops, self.batch_size, run)

    @torch.inference_mode()
    def features(self, crops: list[np.ndarray]) -> np.ndarray:
        if not has_features(self.model):
            reason = f"{type(self.model).__name__} has no forward_features/forward_head"
            raise FeaturesUnavailable(self.name, reason)

        def run(batch, _offset):
            feats = pooled_features(self.model, self._input(batch)).float()
            return feats.reshape(len(batch), -1).cpu().numpy()

        return batched(crops, self.batch_size, run, empty=(0, 0))
