"""``fakelens train``: real faces in, SBI fakes made on the fly, validation on SBI fakes of held-out
*real* faces (never a test set), early stopping, resume, seeded; checkpoints are safetensors + JSON."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from fakelens import __version__
from fakelens.data.sbi_dataset import collate_items
from fakelens.errors import ConfigError
from fakelens.faces.pipeline import FaceConfig
from fakelens.metrics import binary_metrics
from fakelens.models.calibrated import Calibrated
from fakelens.models.checkpoint import (
    load_weights,
    read_config,
    replace_dir,
    resolve_checkpoint,
    save_checkpoint,
)
from fakelens.models.methods import Method, get_method
from fakelens.models.registry import create_model
from fakelens.preprocess import Preprocess
from fakelens.train.calibrate import THRESHOLD_RULE, fit_temperature, module_device, real_quantile_threshold
from fakelens.train.config import TrainConfig
from fakelens.train.data import load_faces, training_items, validation_set
from fakelens.train.distributed import (
    Launch,
    check_batch,
    check_method,
    epoch_order,
    make_runner,
    rank_batches,
)

METHOD_STATE = "method.safetensors"  # in last/: what the training method needs to resume exactly

console = Console(stderr=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _save_opt(path: Path, opt: torch.optim.Optimizer) -> None:
    flat = {"__torch_rng__": torch.get_rng_state()}  # dropout draws continue exactly after a resume
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            flat[f"{idx}.{k}"] = torch.as_tensor(v).contiguous()
    save_file(flat, str(path))


def _load_opt(path: Path, opt: torch.optim.Optimizer) -> None:
    flat = load_file(str(path))
    torch.set_rng_state(flat.pop("__torch_rng__"))
    state: dict[int, dict] = {}
    for key, v in flat.items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


@torch.inference_mode()
def _validate(model, x_val: torch.Tensor, y_val: torch.Tensor, batch: int = 64) -> tuple[dict, np.ndarray]:
    """Validation figures and the logits they came from (the temperature is fitted on them)."""
    model.eval()
    device = module_device(model)
    logits = torch.cat(
        [model(x_val[i : i + batch].to(device)).float().cpu() for i in range(0, len(x_val), batch)]
    )
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_val).item()
    scores = torch.sigmoid(logits).numpy()
    labels = y_val.numpy().astype(int)
    m = binary_metrics(labels, scores, threshold=0.5)
    keys = ("auc", "eer", "eer_threshold", "acc")
    return {"loss": loss, **{k: m[k] for k in keys}}, logits.numpy()


def selection_score(val: dict, select: str) -> float:
    """Higher is better. AUC (ties broken by loss) is what SBI selects on; the loss also moves with
    calibration, which made it stop runs while AUC was still rising."""
    if select == "auc":
        return (val["auc"] or 0.0) - 1e-6 * val["loss"]
    return -val["loss"]


def _run_epoch(model, opt, loader, factors, lr_at, first_step, progress, task, method: Method, runner):
    """One pass over this process's share of the items (each holds as many reals as fakes, so every
    image weighs 1); ``factors`` make the processes' mean losses the whole batch's (rank_batches)."""
    model.train()
    losses = []
    for i, (batch, factor) in enumerate(zip(loader, factors, strict=True)):
        for group in opt.param_groups:
            group["lr"] = lr_at(first_step + i)
        if runner.device.type != "cpu":
            batch = {k: v.to(runner.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        with runner.autocast():
            loss = method.loss(model, batch)
        if factor != 1.0:
            loss = loss * factor
        opt.zero_grad(set_to_none=True)
        runner.backward(loss)
        opt.step()
        losses.append(loss.item())  # this process's weighted share of the batch's mean loss
        progress.update(task, advance=1, info=f"loss {np.mean(losses[-20:]):.4f}")
    return runner.mean_over_processes(losses)  # the batches' mean losses, as one process has them


def _warm_start(model: torch.nn.Module, spec: str, architecture: str) -> None:
    """``model.init_from``: start from a trained checkpoint's weights (same architecture only)."""
    folder = resolve_checkpoint(spec)
    theirs = read_config(folder).get("architecture")
    if theirs != architecture:
        raise ConfigError(f"model.init_from: {spec!r} is a {theirs!r}, not a {architecture!r}")
    try:
        load_weights(folder, model)
    except RuntimeError as err:  # same keys, other shapes: its model_kwargs (e.g. a width) differ
        reason = str(err).splitlines()[-1].strip()
        raise ConfigError(f"model.init_from: {spec!r} does not fit this model ({reason})") from None
    console.print(f"warm start: every weight from {escape(str(folder))}")


@dataclass
class _Run:
    """What the main process needs after an epoch to validate, select and write the run folder."""

    cfg: TrainConfig
    out: Path
    model: torch.nn.Module  # the plain module (not a DDP wrapper)
    opt: torch.optim.Optimizer
    method: Method
    ckpt_config: dict
    x_val: torch.Tensor
    y_val: torch.Tensor
    faces: object
    pre: Preprocess
    progress: Progress
    started: float = 0.0  # the clock's reading when epoch 1 would have started (resume included)
    launch: dict | None = None


def _finish_epoch(run: _Run, state: dict, epoch: int, losses: list[float], task) -> bool:
    """Validate, keep the best checkpoint, write ``last/``; True when the run should stop."""
    cfg, out, model = run.cfg, run.out, run.model
    val, val_logits = _validate(model, run.x_val, run.y_val)
    state["seconds"] = time.time() - run.started
    record = {
        "epoch": epoch + 1,
        "train_loss": float(np.mean(losses)),
        "val": val,
        "seconds": round(state["seconds"], 1),
    }
    state["history"].append(record)
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")
    run.progress.update(
        task,
        info=f"loss {record['train_loss']:.4f} | val loss {val['loss']:.4f} auc {val['auc']:.4f}",
    )
    score = selection_score(val, cfg.train.select)
    if score > state["best_score"]:
        state["best_score"], state["best_epoch"] = score, epoch + 1
        best_cfg = dict(run.ckpt_config)
        calibration = fit_temperature(val_logits, run.y_val.numpy())
        scored = Calibrated(model, calibration["scale"], calibration["bias"])
        train_faces, val_faces = run.faces.train, run.faces.val
        best_cfg["calibration"] = calibration
        best_cfg["threshold"] = round(real_quantile_threshold(scored, val_faces.crops, run.pre), 4)
        best_cfg["threshold_rule"] = THRESHOLD_RULE
        best_cfg["metrics"] = {"val_frame_level": val}
        best_cfg["training"] = {
            "recipe": json.loads(json.dumps(cfg.model_dump(mode="json"))),
            "train_faces": len(train_faces),
            "val_faces": len(val_faces),
            "train_ready_made_fakes": len(run.faces.fakes_train or ()),
            "val_ready_made_fakes": len(run.faces.fakes_val or ()),
            "skipped": len(train_faces.skipped) + len(val_faces.skipped),
            "best_epoch": epoch + 1,
            "method": run.method.report(),
            "seconds": round(state["seconds"], 1),
            "selection": f"best validation {cfg.train.select} on held-out real faces and their fakes",
            "launch": run.launch,
        }
        replace_dir(save_checkpoint(out / "model.tmp", model, best_cfg), out / "model")
    state["epoch"] = epoch + 1
    tmp = save_checkpoint(out / "last.tmp", model, run.ckpt_config)
    _save_opt(tmp / "optimizer.safetensors", run.opt)
    method_state = run.method.state_dict()
    if method_state:
        save_file({k: v.contiguous() for k, v in method_state.items()}, str(tmp / METHOD_STATE))
    (tmp / "state.json").write_text(json.dumps(state))
    replace_dir(tmp, out / "last")
    if epoch + 1 - state["best_epoch"] >= cfg.train.patience:
        console.print(f"early stop: no validation improvement for {cfg.train.patience} epochs")
        return True
    if cfg.train.max_minutes and state["seconds"] > cfg.train.max_minutes * 60:
        console.print(f"time budget of {cfg.train.max_minutes} min reached")
        return True
    return False


def train(cfg: TrainConfig, resume: bool = False, launch: Launch | None = None) -> Path:
    """Run the recipe; returns the folder of the best checkpoint (``<out_dir>/model``). ``launch``
    spreads it over processes (train/distributed.py); by default one local CPU process."""
    t_start = time.time()
    runner = make_runner(launch)
    main = runner.is_main
    out = Path(cfg.out_dir)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(cfg.to_yaml())
    seed_everything(cfg.train.seed)
    torch.set_num_threads(runner.threads(cfg.train.threads))

    face = FaceConfig.from_dict(cfg.face)
    method_cls = get_method(cfg.method.name)
    check_method(method_cls, runner.world_size, runner.device.type)
    check_batch(cfg.train.pairs_per_batch, runner.world_size)
    if method_cls.fitted_head and not runner.launch.local:
        raise ConfigError(
            f"method {cfg.method.name!r} is fitted in closed form in one process: drop the launch flags"
        )
    pre = Preprocess(cfg.model.input_size, tuple(cfg.model.mean), tuple(cfg.model.std))
    model_kwargs = {"drop_rate": cfg.model.drop_rate, **cfg.model.kwargs}
    previous = None
    if cfg.model.continue_from is not None:  # a new forgery task on a trained detector; checked
        from fakelens.train.continual import continue_model  # before the faces load (minutes)

        model, model_kwargs, previous = continue_model(cfg, method_cls, model_kwargs, face, pre)
    refuse = None if method_cls.ready_made_fakes else cfg.method.name
    with runner.main_first():  # the first process fills the face cache and writes splits.json
        faces = load_faces(cfg.data, face, out if main else None, refuse_ready_made=refuse)

    if previous is None:
        model = create_model(cfg.model.architecture, pretrained=cfg.model.pretrained, **model_kwargs)
    if cfg.model.init_from is not None:
        _warm_start(model, cfg.model.init_from, cfg.model.architecture)
    model = model.to(memory_format=torch.channels_last)
    ckpt_config = {
        "name": cfg.name,
        "architecture": cfg.model.architecture,
        "model_kwargs": model_kwargs,
        "preprocess": {"input_size": pre.input_size, "mean": list(pre.mean), "std": list(pre.std)},
        "face": face.to_dict(),
        "fakelens_version": __version__,
    }
    if previous is not None or method_cls.grows_heads:
        from fakelens.train.continual import continual_record

        ckpt_config["incremental"] = continual_record(cfg, previous)
    if method_cls.fitted_head:
        from fakelens.train.probe import fit_probe

        return fit_probe(cfg, faces, pre, model, ckpt_config, out)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    model_run, opt_run, model = runner.setup(model, opt)  # model: the plain module, for saving

    train_set = training_items(faces, cfg.data, pre, cfg.train.seed)
    opts = cfg.resolve_method()
    method = method_cls(opts, seed=cfg.train.seed, epochs=cfg.train.epochs)
    if previous is not None:
        method.attach_previous(previous)
    x_val, y_val = validation_set(faces, cfg.data, pre, cfg.train.seed)

    steps_per_epoch = math.ceil(len(train_set) / cfg.train.pairs_per_batch)
    total_steps = steps_per_epoch * cfg.train.epochs
    state = {"epoch": 0, "best_score": -float("inf"), "best_epoch": -1, "history": [], "seconds": 0.0}
    last = out / "last"
    if resume and (last / "state.json").is_file():
        from fakelens.train.continual import check_resume

        check_resume(read_config(last), ckpt_config)
        state = json.loads((last / "state.json").read_text())
        load_weights(last, model)
        _load_opt(last / "optimizer.safetensors", opt)
        if (last / METHOD_STATE).is_file():
            method.load_state_dict(load_file(str(last / METHOD_STATE)))
        if "best_score" not in state or state.get("select") != cfg.train.select:  # older run or new criterion
            scores = [(selection_score(h["val"], cfg.train.select), h["epoch"]) for h in state["history"]]
            state["best_score"], state["best_epoch"] = max(scores, default=(-float("inf"), -1))
        if main:
            console.print(f"resuming after epoch {state['epoch']} (best epoch so far {state['best_epoch']})")
    state["select"] = cfg.train.select
    if main:  # metrics.jsonl always mirrors the history of the state being continued (or is started afresh)
        (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in state["history"]))
    runner.barrier()  # no process writes last/ before every one has read it

    def lr_at(step: int) -> float:  # linear warm-up for one epoch, then cosine decay
        if step < steps_per_epoch:
            return cfg.train.lr * (step + 1) / steps_per_epoch
        return cfg.train.lr * 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not main,
    )
    run = _Run(cfg, out, model, opt, method, ckpt_config, x_val, y_val, faces, pre, progress)
    run.launch = {**runner.launch.to_dict(), "processes": runner.world_size}
    run.started = time.time() - state["seconds"]
    with progress:
        for epoch in range(state["epoch"], cfg.train.epochs):
            train_set.set_epoch(epoch)
            method.start_epoch(epoch, model, train_set)
            seed = cfg.train.seed * 1000 + epoch
            order = epoch_order(
                len(train_set), torch.Generator().manual_seed(seed), method.order(epoch, len(train_set))
            )
            batches = rank_batches(order, cfg.train.pairs_per_batch, runner.rank, runner.world_size)
            loader = DataLoader(
                train_set,
                batch_sampler=[b for b, _ in batches],
                generator=torch.Generator().manual_seed(seed),  # the workers' base seed, as before
                num_workers=cfg.train.num_workers,
                collate_fn=collate_items,
                persistent_workers=False,
            )
            task = progress.add_task(f"epoch {epoch + 1}/{cfg.train.epochs}", total=len(loader), info="")
            losses = _run_epoch(
                model_run,
                opt_run,
                loader,
                [f for _, f in batches],
                lr_at,
                epoch * steps_per_epoch,
                progress,
                task,
                method,
                runner,
            )
            method.end_epoch(epoch)
            stop, failed = False, None
            if main:
                try:
                    stop = _finish_epoch(run, state, epoch, losses, task)
                except Exception as err:  # the others wait in broadcast: tell them, then fail loudly
                    failed = err
            state, stop, reason = runner.broadcast((state, stop, None if failed is None else repr(failed)))
            if failed is not None:
                raise failed
            if reason is not None:
                raise RuntimeError(f"the main process failed after epoch {epoch + 1}: {reason}")
            if stop:  # every process stops after the same epoch
                break
    if main:
        method.after_training(out / "model", model, train_set, cfg.name, faces.aligned)
        console.print(
            f"best epoch {state['best_epoch']} (by validation {cfg.train.select}); "
            f"{time.time() - t_start:.0f} s in all; checkpoint: {out / 'model'}"
        )
    runner.barrier()
    return out / "model"
