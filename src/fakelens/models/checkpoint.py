"""Checkpoints are a folder: ``weights.safetensors`` (tensors only, safe to load from strangers) and
``config.json`` (architecture, the exact face preprocessing, threshold, training data and metrics).
No pickle anywhere, so opening a checkpoint can never run code.

Reading a folder into its parts (``resolve_checkpoint``, ``parse_config``, ``build_model``) lives here,
below both scoring backends, so neither backend imports the other's loader (``models/loading.py``).
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FaceConfig
from fakelens.models.registry import create_model
from fakelens.preprocess import Preprocess

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
DEFAULT_MODEL = "video-photo-ensemble"
PREVIOUS_MODEL = "video-npr-ensemble"  # the default before it: benchmarks print both side by side


def save_checkpoint(folder: str | Path, model: torch.nn.Module, config: dict, half: bool = False) -> Path:
    """Write weights (fp16 when ``half``, to keep shipped files small) and config."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(folder / WEIGHTS))
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def replace_dir(tmp: Path, final: Path) -> None:
    """Swap a fully written folder into place, so a crash never leaves a half-written checkpoint."""
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def read_config(folder: str | Path) -> dict:
    folder = Path(folder)
    path = folder / CONFIG
    if not folder.is_dir():
        raise FakelensError("no such checkpoint folder (expected weights.safetensors + config.json)", folder)
    if not path.is_file():
        raise FakelensError(f"missing {CONFIG}", folder)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise FakelensError(f"{CONFIG} is not valid JSON ({err.msg}, line {err.lineno})", folder) from None


def load_weights(folder: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    """Load tensors into ``model`` (cast to the model's dtypes); every key must match."""
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise FakelensError(f"missing {WEIGHTS}", folder)
    try:
        state = load_file(str(path))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error type
        raise FakelensError(f"{WEIGHTS} is not a readable safetensors file ({err})", folder) from None
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise FakelensError(
            f"weights do not fit the architecture ({len(missing)} missing, {len(unexpected)} unexpected keys, "
            f"e.g. {(missing or unexpected)[0]})",
            folder,
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model


def shipped_models() -> dict[str, Path]:
    """Checkpoints that ship inside the package (``fakelens/weights/<name>/``)."""
    root = Path(str(resources.files("fakelens") / "weights"))
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / CONFIG).is_file()}


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


# Checkpoints written before the method plugins named their method in the architecture; both
# aliases built exactly ``sbi-effnet-lite0``. Read-only: recipes must name the real architecture.
LEGACY_ARCHITECTURES = {"acmf-effnet-lite0": "sbi-effnet-lite0", "lsda-effnet-lite0": "sbi-effnet-lite0"}


def build_model(cfg: dict, folder: Path) -> torch.nn.Module:
    """The checkpoint's architecture with its weights loaded (fp32, eval mode)."""
    try:
        arch = LEGACY_ARCHITECTURES.get(cfg["architecture"], cfg["architecture"])
        net = create_model(arch, pretrained=False, **cfg.get("model_kwargs", {}))
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
