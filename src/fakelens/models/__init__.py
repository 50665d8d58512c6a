"""Detectors: a lazy registry of architectures, checkpoints, and the ready-to-score ``Detector``."""

from fakelens.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model", "load_detector", "Detector", "Preprocess"]


def __getattr__(name):  # torch-heavy names load on first use
    if name in ("load_detector", "Detector", "Preprocess", "shipped_models"):
        from fakelens.models import detector

        return getattr(detector, name)
    raise AttributeError(name)
