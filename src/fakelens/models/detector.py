"""A trained detector ready to score faces: model + the preprocessing it was trained with."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import torch

from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FaceConfig
from fakelens.models.checkpoint import load_weights, read_config
from fakelens.models.registry import create_model

DEFAULT_MODEL = "sbi-nprsoft-ensemble-ffhq"


@dataclass(frozen=True)
class Preprocess:
    """Crop -> network input; identical in training and inference (resize with INTER_AREA,
    scale to [0, 1], normalise)."""

    input_size: int = 128
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def resize(self, crop: np.ndarray) -> np.ndarray:
        if crop.shape[0] == self.input_size and crop.shape[1] == self.input_size:
            return crop
        return cv2.resize(crop, (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)

    def normalize(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, H, W, 3) float32 network input, in NumPy (ONNX Runtime needs no torch op here)."""
        arr = np.stack([self.resize(c) for c in crops]).astype(np.float32) / 255.0
        return (arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_tensor(self, crops: list[np.ndarray]) -> torch.Tensor:
        arr = self.normalize(crops)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


@dataclass
class Detector:
    """Scores aligned face crops: ``predict_proba(crops)`` -> p(fake) per crop."""

    model: torch.nn.Module
    preprocess: Preprocess
    face: FaceConfig
    threshold: float = 0.5
    name: str = "unnamed"
    config: dict = field(default_factory=dict)
    batch_size: int = 16  # measured: 8-32 within 5 % on a 10 s 1080p clip, 1 is ~20 % slower
    backend: ClassVar[str] = "torch"  # what runs predict_proba (OnnxDetector: "onnx")

    def __post_init__(self):
        self.model.eval()
        self.model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def predict_proba(self, crops: list[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0, dtype=np.float32)
        out = []
        for i in range(0, len(crops), self.batch_size):
            logits = self.model(self.preprocess.to_tensor(crops[i : i + self.batch_size]))
            out.append(torch.sigmoid(logits.float()).numpy())
        return np.concatenate(out)


def shipped_models() -> dict[str, Path]:
    """Checkpoints that ship inside the package (``fakelens/weights/<name>/``)."""
    root = Path(str(resources.files("fakelens") / "weights"))
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / "config.json").is_file()}


def resolve_checkpoint(model: str | Path | None = None) -> Path:
    """A shipped model's name (default: the embedded model) or a path -> the path to load."""
    shipped = shipped_models()
    key = str(model) if model is not None else DEFAULT_MODEL
    folder = shipped.get(key, Path(key))
    if not folder.exists() and key not in shipped:
        names = ", ".join(shipped) or "none installed"
        raise FakelensError(
            f"neither a checkpoint folder nor a shipped model (shipped: {names})",
            key,
            verb="cannot load model",
        )
    return folder


def parse_config(cfg: dict, folder: Path) -> tuple[Preprocess, FaceConfig, float]:
    """Preprocessing, face pipeline and threshold from a checkpoint's config.json."""
    try:
        return (
            Preprocess(**cfg["preprocess"]),
            FaceConfig.from_dict(cfg["face"]),
            float(cfg.get("threshold", 0.5)),
        )
    except KeyError as err:
        raise FakelensError(f"config.json lacks the key {err}", folder, verb="cannot load model") from None
    except (TypeError, ValueError) as err:
        raise FakelensError(f"config.json: {err}", folder, verb="cannot load model") from None


def build_model(cfg: dict, folder: Path) -> torch.nn.Module:
    """The checkpoint's architecture with its weights loaded (fp32, eval mode)."""
    try:
        net = create_model(cfg["architecture"], pretrained=False, **cfg.get("model_kwargs", {}))
    except KeyError as err:
        raise FakelensError(f"config.json lacks the key {err}", folder, verb="cannot load model") from None
    except (TypeError, ValueError) as err:
        raise FakelensError(f"config.json: {err}", folder, verb="cannot load model") from None
    net = load_weights(folder, net).eval()
    cal = cfg.get("calibration")
    if cal:  # temperature scaling (or stacking's affine map) fitted on validation data
        from fakelens.models.calibrated import Calibrated

        try:
            net = Calibrated(net, float(cal["scale"]), float(cal.get("bias", 0.0))).eval()
        except (KeyError, TypeError, ValueError):
            reason = "config.json: calibration needs a numeric 'scale'"
            raise FakelensError(reason, folder, verb="cannot load model") from None
    return net


def load_detector(model: str | Path | None = None, backend: str = "auto") -> Detector:
    """Load a checkpoint folder, or a shipped model by name (default: the embedded model).

    ``backend``: ``"torch"``, ``"onnx"`` (ONNX Runtime; an exported ``model.onnx`` in the folder, or
    one exported once into a cache) or ``"auto"`` (onnx when onnxruntime is installed and the model
    exports, else torch: on 2 cores ONNX Runtime scored 1.5x more faces/s than PyTorch at batch 1,
    2.8x at batch 32, scanned demo/ 1.6x faster, same logits within 3e-6; benchmarks/bench_onnx.py).
    """
    if backend != "torch":
        from fakelens.models.onnx_backend import load_onnx_detector

        return load_onnx_detector(model, backend=backend)
    folder = resolve_checkpoint(model)
    cfg = read_config(folder)
    pre, face, threshold = parse_config(cfg, folder)
    return Detector(
        model=build_model(cfg, folder),
        preprocess=pre,
        face=face,
        threshold=threshold,
        name=cfg.get("name", folder.name),
        config=cfg,
    )
