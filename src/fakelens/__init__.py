"""fakelens: find forged faces in images and videos, and train/benchmark detectors, offline on CPU.

Top-level names load lazily, so ``import fakelens`` stays cheap (no torch until a model is needed).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "create_model": "fakelens.models.registry",
    "list_models": "fakelens.models.registry",
    "load_detector": "fakelens.models.loading",
    "Detector": "fakelens.models.detector",
    "Scorer": "fakelens.models.scorer",
    "FacePipeline": "fakelens.faces.pipeline",
    "FaceConfig": "fakelens.faces.pipeline",
    "scan_paths": "fakelens.scan.api",
    "evaluate_manifest": "fakelens.evaluate.run",
    "load_image": "fakelens.media.image",
    "sample_frames": "fakelens.media.video",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fakelens' has no attribute {name!r}")
