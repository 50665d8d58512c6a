"""``load_detector``: a checkpoint (folder, ``.onnx`` file or shipped name) -> a ready ``Scorer``.

The one module that knows both backends; each backend imports only ``checkpoint`` and ``scorer``, so
none of them imports this one (no cycle, checked by tests/test_layers.py).
"""

from __future__ import annotations

from pathlib import Path

from fakelens.models.checkpoint import (
    DEFAULT_MODEL,
    build_model,
    parse_config,
    read_config,
    resolve_checkpoint,
    shipped_models,
)
from fakelens.models.onnx_backend import BACKENDS, OnnxScorer, load_onnx_scorer
from fakelens.models.scorer import Scorer
from fakelens.models.torch_backend import TorchScorer

__all__ = [
    "DEFAULT_MODEL",
    "build_model",
    "load_detector",
    "load_torch_scorer",
    "parse_config",
    "resolve_checkpoint",
    "shipped_models",
]


def load_torch_scorer(model: str | Path | None = None, device: str = "cpu") -> TorchScorer:
    """The checkpoint in PyTorch (what ``backend="torch"`` loads), on ``device``."""
    folder = resolve_checkpoint(model)
    cfg = read_config(folder)
    pre, face, threshold = parse_config(cfg, folder)
    net = build_model(cfg, folder)
    name = cfg.get("name", folder.name)
    return TorchScorer(net, pre, face, threshold=threshold, name=name, config=cfg, device=device)


def load_detector(model: str | Path | None = None, backend: str = "auto") -> Scorer:
    """Load a checkpoint folder, or a shipped model by name (default: the embedded model).

    ``backend``: ``"torch"``, ``"onnx"`` (ONNX Runtime; an exported ``model.onnx`` in the folder, or
    one exported once into a cache) or ``"auto"`` (onnx when onnxruntime is installed and the model
    exports, else torch: on 2 cores ONNX Runtime scored 1.5x more faces/s than PyTorch at batch 1,
    2.8x at batch 32, scanned demo/ 1.6x faster, same logits within 3e-6; benchmarks/bench_onnx.py).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "torch":
        scorer: OnnxScorer | None = load_onnx_scorer(model, backend=backend)
        if scorer is not None:
            return scorer
    return load_torch_scorer(model)
