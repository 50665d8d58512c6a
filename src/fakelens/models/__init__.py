"""Detectors: a lazy registry of architectures, checkpoints, and ready-to-score ``Scorer`` backends."""

from fakelens.models.registry import create_model, list_models, register_model

__all__ = [
    "create_model",
    "list_models",
    "register_model",
    "load_detector",
    "Detector",
    "Preprocess",
    "Scorer",
    "shipped_models",
]


def __getattr__(name):  # torch-heavy names load on first use
    if name in ("load_detector", "shipped_models"):
        from fakelens.models import loading

        return getattr(loading, name)
    if name == "Detector":
        from fakelens.models.torch_backend import TorchScorer

        return TorchScorer
    if name == "Scorer":
        from fakelens.models.scorer import Scorer

        return Scorer
    if name == "Preprocess":
        from fakelens.preprocess import Preprocess

        return Preprocess
    raise AttributeError(name)
