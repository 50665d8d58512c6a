"""Backwards-compatible names: ``Detector`` is the PyTorch scorer, ``load_detector`` picks a backend.

New code imports ``Scorer`` (models/scorer.py), ``TorchScorer`` (models/torch_backend.py) and
``load_detector`` (models/loading.py); this module only re-exports them.
"""

from __future__ import annotations

from fakelens.models.loading import (
    DEFAULT_MODEL,
    build_model,
    load_detector,
    parse_config,
    resolve_checkpoint,
    shipped_models,
)
from fakelens.models.scorer import FeaturesUnavailable, Scorer
from fakelens.models.torch_backend import TorchScorer
from fakelens.preprocess import Preprocess

Detector = TorchScorer

__all__ = [
    "DEFAULT_MODEL",
    "Detector",
    "FeaturesUnavailable",
    "Preprocess",
    "Scorer",
    "TorchScorer",
    "build_model",
    "load_detector",
    "parse_config",
    "resolve_checkpoint",
    "shipped_models",
]
