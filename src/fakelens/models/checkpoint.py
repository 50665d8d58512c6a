"""Checkpoints are a folder: ``weights.safetensors`` (tensors only, safe to load from strangers) and
``config.json`` (architecture, the exact face preprocessing, threshold, training data and metrics).
No pickle anywhere, so opening a checkpoint can never run code."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fakelens.errors import FakelensError

WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


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
