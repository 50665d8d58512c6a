"""``fakelens train RECIPE --continue-from MODEL``: the recipe's forgery task trained on top of a
trained detector. Method ``incremental`` (models/incremental.py) grows a head for the new task,
replays the previous model's exemplar memory and distils from it; any other method fine-tunes the
same network naively (the baseline incremental detection is measured against)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from fakelens.data.facecache import build_faceset
from fakelens.errors import ConfigError
from fakelens.faces.pipeline import FaceConfig
from fakelens.forge.sbi import SBIConfig, self_blend
from fakelens.models.checkpoint import (
    LEGACY_ARCHITECTURES,
    load_weights,
    read_config,
    resolve_checkpoint,
)
from fakelens.models.incremental import MEMORY, Previous, ReplayBank
from fakelens.models.registry import create_model
from fakelens.preprocess import Preprocess
from fakelens.train.config import TrainConfig

console = Console(stderr=True)


def previous_tasks(prev_cfg: dict) -> list[str]:
    """The tasks a checkpoint was trained on, in order (a detector trained once: its own name)."""
    return list((prev_cfg.get("incremental") or {}).get("tasks") or [prev_cfg.get("name", "task 1")])


def continue_model(
    cfg: TrainConfig, method_cls, model_kwargs: dict, face: FaceConfig, pre: Preprocess
) -> tuple[torch.nn.Module, dict, Previous]:
    """The network to train (the previous weights, a new head when the method grows one), its
    kwargs, and what the method needs of the previous model (teacher and replay bank only then)."""
    spec, grows_heads = cfg.model.continue_from, method_cls.grows_heads
    key = f"model.continue_from: {spec!r}"
    folder = resolve_checkpoint(spec)
    prev = read_config(folder)
    theirs = LEGACY_ARCHITECTURES.get(prev.get("architecture"), prev.get("architecture"))
    if theirs != cfg.model.architecture:
        raise ConfigError(f"{key} is a {theirs!r}, not a {cfg.model.architecture!r}")
    if prev.get("face") != face.to_dict():
        raise ConfigError(f"{key} frames faces unlike this recipe's face section")
    if prev.get("preprocess") != {"input_size": pre.input_size, "mean": list(pre.mean), "std": list(pre.std)}:
        raise ConfigError(f"{key} takes other inputs (model.input_size, mean, std) than this recipe")
    prev_kwargs = dict(prev.get("model_kwargs") or {})
    heads, tasks = int(prev_kwargs.get("heads", 1)), previous_tasks(prev)
    if grows_heads and heads != len(tasks):
        raise ConfigError(
            f"{key} has {heads} head(s) for {len(tasks)} tasks (naively fine-tuned): "
            "method incremental continues a model trained with one head per task"
        )
    if heads > 1 and not grows_heads and method_cls.name != "plain":
        raise ConfigError(f"{key} has a head per task: continue it with method incremental or plain")
    kwargs = dict(model_kwargs)
    if grows_heads or "heads" in prev_kwargs:  # other architectures take no heads option
        kwargs["heads"] = heads + 1 if grows_heads else heads
    model = create_model(cfg.model.architecture, pretrained=False, **kwargs)
    # the previous model, read once: its weights start this one, and it is the teacher when growing
    before = load_weights(folder, create_model(cfg.model.architecture, pretrained=False, **prev_kwargs))
    state = dict(before.state_dict())
    if grows_heads:  # the new task's head starts as the mean of the earlier ones
        for name in ("head.weight", "head.bias"):
            old = state[name]
            state[name] = torch.cat([old, old.mean(dim=0, keepdim=True)])
    own = model.state_dict()
    if set(own) != set(state):
        raise ConfigError(f"{key} does not fit this model (its keys differ)")
    try:
        model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    except RuntimeError as err:  # same keys, other shapes: its model.kwargs (e.g. a width) differ
        raise ConfigError(f"{key} does not fit this model ({str(err).splitlines()[-1].strip()})") from None
    console.print(f"continuing {folder} (tasks: {', '.join(tasks)}) on task {cfg.name!r}")
    previous = Previous(Path(folder), tasks, None, spec=str(spec))
    if grows_heads:
        previous.teacher = before.eval().requires_grad_(False)
        previous.memory = read_memory(Path(folder))
        previous.bank = replay_bank(previous.memory, face, pre, cfg.data.cache_dir)
        if not previous.memory:
            console.print(f"[yellow]warning[/] {folder} has no {MEMORY}: continuing without replay")
    return model, kwargs, previous


def read_memory(folder: Path) -> list[dict]:
    path = folder / MEMORY
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{MEMORY} is not valid JSON ({err.msg})", folder) from None


def replay_bank(memory: list[dict], face: FaceConfig, pre: Preprocess, cache_dir) -> ReplayBank | None:
    """The exemplars as tensors: each file's aligned face (self-blends remade from their seed)."""
    if not memory:
        return None
    aligned = {Path(e["path"]) for e in memory if e.get("aligned")}
    paths = sorted({Path(e["path"]) for e in memory}, key=str)
    faces = build_faceset(paths, face, cache_dir, aligned=aligned)
    where = {p: i for i, p in enumerate(faces.paths)}
    lost = [e["path"] for e in memory if str(Path(e["path"])) not in where]
    if lost:
        raise ConfigError(
            f"{len(lost)} exemplar(s) of the memory are missing or have no face, e.g. '{lost[0]}'"
        )
    images, labels, heads = [], [], []
    for e in memory:
        i = where[str(Path(e["path"]))]
        crop = faces.crops[i]
        if e["kind"] == "self-blend":
            crop = self_blend(
                crop, faces.landmarks[i], np.random.default_rng(e["blend_seed"]), SBIConfig()
            ).fake
        images.append(crop)
        labels.append(float(e["label"]))
        heads.append(int(e["head"]))
    return ReplayBank(
        pre.to_tensor(images).contiguous(),
        torch.tensor(labels, dtype=torch.float32),
        torch.tensor(heads, dtype=torch.int64),
    )


def continual_record(cfg: TrainConfig, previous: Previous | None) -> dict:
    """What config.json says of the task sequence (``incremental``)."""
    tasks = [*(previous.tasks if previous is not None else []), cfg.name]
    record = {"tasks": tasks}
    if previous is not None:
        record["continued_from"] = previous.spec
    return record


def check_resume(last_config: dict, ckpt_config: dict) -> None:
    """``--resume`` of a continued run needs the same ``--continue-from`` (the teacher, the memory
    and the heads come from it); a run that was not continued takes none."""
    theirs = (last_config.get("incremental") or {}).get("continued_from")
    ours = (ckpt_config.get("incremental") or {}).get("continued_from")
    if theirs != ours:
        said = f"--continue-from {theirs}" if theirs else "no --continue-from"
        raise ConfigError(f"--resume: this run was started with {said}; resume it the same way")
