"""Researcher commands: prepare datasets, synthesize forgeries, train, evaluate, run protocols, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from fakelens.cli._common import app, err_console, fmt_metric, one_line_errors, out_console
from fakelens.cli.choices import (
    SYNTH_METHODS,
    Accelerator,
    Backend,
    Compression,
    Layout,
    Metric,
    Precision,
    Strategy,
    Tta,
    choice,
    choice_list,
)


@app.command()
@one_line_errors
def prepare(
    src: Annotated[Path, typer.Argument(help="Root folder of the raw dataset.")],
    layout: Annotated[Layout, choice(Layout, "--layout", help="How SRC is organised.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for faces/, manifest.jsonl, report.")],
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled evenly over each video.")] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Processes, each with its own face pipeline.")] = 2,
    splits: Annotated[
        Path | None, typer.Option(help="Folder with FF++ train/val/test.json (layouts ffpp and df40).")
    ] = None,
    compression: Annotated[
        Compression, choice(Compression, "--compression", help="FF++ quality (layouts ffpp, df40).")
    ] = Compression.c23,
    max_faces: Annotated[int, typer.Option(min=1, help="Faces kept per frame (largest first).")] = 1,
    resume: Annotated[bool, typer.Option(help="Skip items finished by an earlier run into --out.")] = True,
):
    """Turn a raw deepfake dataset into aligned face crops, landmarks, masks and a manifest."""
    from fakelens.data.prepare import prepare_dataset

    s = prepare_dataset(
        src,
        layout.value,
        out,
        frames=frames,
        workers=workers,
        max_faces=max_faces,
        splits_dir=splits,
        compression=compression.value,
        resume=resume,
    )
    table = Table(title=f"fakelens prepare - {layout} -> {out}")
    for col in ("split", "videos", "real faces", "fake faces"):
        table.add_column(col)
    for split, c in s.per_split.items():
        table.add_row(split, str(c["videos"]), str(c["real"]), str(c["fake"]))
    out_console.print(table)
    err_console.print(
        f"{s.items} item(s): {s.processed} prepared, {s.resumed} already done, {s.errors} unreadable; "
        f"{s.faces} face(s) written, {s.faceless_frames} frame(s) without a face; "
        f"details in {out / 'prepare-report.json'}",
        soft_wrap=True,
    )
    for note in s.notes[:10]:
        err_console.print(Text.assemble(("note ", "yellow"), note), soft_wrap=True)
    if len(s.notes) > 10:
        err_console.print(f"... {len(s.notes) - 10} more note(s) in the report", soft_wrap=True)


@app.command()
@one_line_errors
def synth(
    real_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder of real face images (and videos, for vblend, lipsync, animate, talkinghead)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (PNGs, masks, manifest.jsonl).")],
    methods: Annotated[
        str, choice_list(SYNTH_METHODS, "--methods", help=f"Comma-separated, of: {', '.join(SYNTH_METHODS)}.")
    ] = ",".join(SYNTH_METHODS),
    per_face: Annotated[int, typer.Option(min=1, help="Fakes per real face (or video) and method.")] = 1,
    seed: Annotated[int, typer.Option(help="Fixes every random choice.")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N files.")] = None,
    frames: Annotated[
        int,
        typer.Option(min=2, help="Frames sampled evenly per video (vblend, lipsync, animate, talkinghead)."),
    ] = 8,
):
    """Write a labelled set of forgeries (with masks) made from real faces, for training or evaluation."""
    from fakelens.data.synth import synthesize

    s = synthesize(
        real_dir, out, methods.split(","), per_face=per_face, seed=seed, limit=limit, video_frames=frames
    )
    out_console.print(
        ", ".join(f"{k}: {v}" for k, v in s.counts.items()) + f" -> {s.manifest}", soft_wrap=True
    )
    for note in s.notes:
        err_console.print(f"note: {note}", soft_wrap=True)
    for path, reason in s.skipped:
        err_console.print(Text(f"skipped '{path}': {reason}", style="yellow"), soft_wrap=True)


@app.command()
@one_line_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training recipe (YAML).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run folder (overrides out_dir in the config).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from <out>/last if it exists.")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: train.epochs=3")
    ] = None,
    continue_from: Annotated[
        str | None,
        typer.Option(
            "--continue-from",
            help="Train the recipe's forgery task on this trained model (a folder or a shipped name): "
            "method incremental adds a head, replays its memory and distils; others fine-tune it.",
        ),
    ] = None,
    accelerator: Annotated[
        Accelerator, choice(Accelerator, "--accelerator", help="cpu (the default), gpu or auto (Lightning).")
    ] = Accelerator.cpu,
    devices: Annotated[int, typer.Option(min=1, help="Processes per node (GPUs, or CPU processes).")] = 1,
    num_nodes: Annotated[int, typer.Option(min=1, help="Machines (torchrun/SLURM start them).")] = 1,
    strategy: Annotated[
        Strategy, choice(Strategy, "--strategy", help="auto or ddp (Lightning Fabric; gloo on CPU).")
    ] = Strategy.auto,
    precision: Annotated[
        Precision, choice(Precision, "--precision", help="32-true, 16-mixed (GPU) or bf16-mixed.")
    ] = Precision.full,
):
    """Train a detector: real faces with self-blended fakes made on the fly, or a prepared manifest.
    Any of --accelerator/--devices/--num-nodes/--strategy/--precision runs it on Lightning Fabric
    (docs/distributed.md); the same recipe, batches and checkpoints."""
    import yaml

    from fakelens.train.config import TrainConfig
    from fakelens.train.distributed import Launch, is_main_process
    from fakelens.train.loop import train as run_training

    overrides = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    if out is not None:
        overrides["out_dir"] = str(out)
    if continue_from is not None:  # a shipped name, or a path from here (not from the recipe)
        from fakelens.models.checkpoint import shipped_models

        shipped = continue_from in shipped_models()
        overrides["model.continue_from"] = continue_from if shipped else str(Path(continue_from).resolve())
        overrides.setdefault("model.init_from", None)
    cfg = TrainConfig.from_yaml(config, overrides)
    launch = Launch(accelerator.value, devices, num_nodes, strategy.value, precision.value)
    folder = run_training(cfg, resume=resume, launch=launch)
    if is_main_process():
        out_console.print(f"checkpoint: {folder}")


@app.command()
@one_line_errors
def ensemble(
    config: Annotated[Path, typer.Argument(help="Ensemble recipe (YAML): members, mode, data.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (overrides out_dir in the config).")
    ] = None,
):
    """Stack trained detectors into one calibrated checkpoint, fitted on the recipe's validation data."""
    from fakelens.train.ensemble import EnsembleConfig, build_ensemble

    cfg = EnsembleConfig.from_yaml(config)
    if out is not None:
        cfg.out_dir = out
    folder = build_ensemble(cfg)
    report = json.loads((folder.parent / "ensemble.json").read_text())
    wins = report.get("val_wins") or [None] * len(report["members"])
    for m, w, c, n in zip(report["members"], report["weights"], report["offsets"], wins, strict=True):
        decided = "" if n is None else f", decides {n} validation samples"
        out_console.print(
            f"{m['name']}: weight {w:+.3f}, offset {c:+.3f}{decided}, validation AUC {m['val_auc']:.4f}"
        )
        if n == 0:
            out_console.print(f"[yellow]warning: {m['name']} never decides the max: it adds nothing[/yellow]")
    out_console.print(
        f"ensemble ({report['mode']}): validation AUC {report['val_auc']:.4f}, ECE {report['val_ece']:.4f}"
    )
    out_console.print(f"checkpoint: {folder}")


@app.command()
@one_line_errors
def temporal(
    model_dir: Annotated[Path, typer.Argument(help="Frame model: a checkpoint folder (kept frozen).")],
    manifest: Annotated[
        Path,
        typer.Option("--manifest", help="JSONL with video_id and split: train trains, val selects/reports."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for temporal-head.safetensors, config/metrics.json.")
    ],
    frames: Annotated[int, typer.Option(min=2, max=64, help="Frames per training window.")] = 8,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs; the best on validation AUC is kept.")] = 30,
    seed: Annotated[int, typer.Option(help="Fixes every random choice.")] = 0,
    exclude_groups: Annotated[str, typer.Option(help="Comma-separated manifest groups left out.")] = "",
):
    """Research: a temporal head over a face track's frame embeddings vs per-frame aggregation (scan
    does not use it)."""
    from fakelens.train.temporal import train_temporal_head

    groups = [g.strip() for g in exclude_groups.split(",") if g.strip()]
    m = train_temporal_head(
        model_dir, manifest, out, frames=frames, epochs=epochs, seed=seed, exclude_groups=groups
    )
    table = Table(title=f"validation AUC per track, frame model {model_dir} (best epoch {m['best_epoch']})")
    for col in ("fakes", "real", "fake", "head", "mean logit", "scan rule"):
        table.add_column(col)
    for name, r in m["val"].items():
        cells = (fmt_metric(r[s]) for s in ("head", "mean", "rule"))
        table.add_row(name, str(r["n_real"]), str(r["n_fake"]), *cells)
    out_console.print(table)
    d = m["head_minus_mean"]
    err_console.print(
        f"head - mean: {d['delta']:+.4f} (95 % bootstrap {d['ci95'][0]:+.4f} .. {d['ci95'][1]:+.4f}); "
        f"features {m['seconds']['features']} s, training {m['seconds']['training']} s; results in {out}/",
        soft_wrap=True,
    )


@app.command()
@one_line_errors
def evaluate(
    manifest: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL with path,label[,video_id,method].")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for metrics.json, roc.png, scores.")
    ] = Path("runs/evaluate"),
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled per video.")] = 32,
    perturb: Annotated[
        str | None,
        typer.Option(help="Degrade frames first: jpeg:3 (one run); jpeg or all: a robustness run."),
    ] = None,
    backend: Annotated[
        Backend, choice(Backend, "--backend", help="torch, onnx or auto (onnx when installed).")
    ] = Backend.auto,
    tta: Annotated[
        Tta | None, choice(Tta, "--tta", help="Test-time adaptation on unlabelled test batches (opt-in).")
    ] = None,
    tta_source: Annotated[
        Path | None,
        typer.Option(
            help="Real training-domain photos --tta adapts against: a folder, or a run folder / splits.json "
            "(its training reals)."
        ),
    ] = None,
):
    """Frame- and video-level AUC, AP, EER and accuracy of a model on a labelled manifest."""
    from fakelens.evaluate.run import evaluate_manifest
    from fakelens.forge.perturb import parse_perturbations
    from fakelens.models.detector import load_detector

    specs = parse_perturbations(perturb) if perturb is not None else []
    if tta is not None:
        if tta_source is None:
            raise ValueError("--tta acmf needs --tta-source DIR (real training-domain photos)")
        from fakelens.evaluate.tta import TTA_NOTE, AttentionConsistencyTTA, source_pairs

        base = load_detector(model, backend="torch")
        model = AttentionConsistencyTTA.wrap(base, source_pairs(tta_source, base.face))
        err_console.print(f"[yellow]{TTA_NOTE}[/]: not comparable with evaluations without it")
    else:
        model = load_detector(model, backend=backend.value)
    if len(specs) > 1 or (specs and ":" not in perturb):
        from fakelens.evaluate.robustness import evaluate_robustness, summary_tables

        summary = evaluate_robustness(manifest, out, model=model, perturbations=perturb, num_frames=frames)
        for table in summary_tables(summary):
            out_console.print(table)
        err_console.print(f"results in {out}/ (robustness.md, .csv, .png; a folder per condition)")
        return
    result = evaluate_manifest(manifest, out, model=model, num_frames=frames, perturb=perturb)
    table = Table(title=f"evaluation of {result['model']} on {manifest.name}")
    for col in ("level", "n", "real", "fake", "AUC", "AP", "EER", "ACC"):
        table.add_column(col)
    for level in ("frame_level", "video_level"):
        m = result["metrics"].get(level)
        if not m:
            continue
        table.add_row(
            level.replace("_", "-"),
            str(m["n"]),
            str(m["n_real"]),
            str(m["n_fake"]),
            fmt_metric(m["auc"]),
            fmt_metric(m["ap"]),
            fmt_metric(m["eer"]),
            fmt_metric(m["acc"]),
        )
    out_console.print(table)
    err_console.print(f"results in {out}/ (metrics.json, scores.jsonl, roc.png)")


@app.command()
@one_line_errors
def protocol(
    config: Annotated[Path, typer.Argument(help="Protocol YAML (kind, manifests, datasets, tests).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")] = Path("runs/protocol"),
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    train_recipe: Annotated[
        Path | None, typer.Option("--train", help="Train a model per fold with this recipe first.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """Run an evaluation protocol (within/cross-dataset, leave-one-method-out, DF40 1-4)."""
    from fakelens.evaluate.protocol_run import run_protocol

    summary = run_protocol(config, out, model=model, train_recipe=train_recipe, progress=not quiet)
    table = Table(title=f"protocol {summary['protocol']} ({summary['kind']})")
    for col in ("fold", "test", "level", "real", "fake", "AUC", "AP", "EER"):
        table.add_column(col, overflow="fold")
    for r in summary["rows"]:
        level = r["level"].replace("_", "-")
        counts = (str(r["n_real"]), str(r["n_fake"]))
        scores = (fmt_metric(r[k]) for k in ("auc", "ap", "eer"))
        table.add_row(r["fold"], Text(r["test"]), level, *counts, *scores)
    out_console.print(table)
    for plan in summary["folds"]:
        for warning in plan["warnings"]:
            err_console.print(Text.assemble(("warning: ", "yellow"), warning), soft_wrap=True)
    err_console.print(f"results in {out}/ (results.md, results.csv, results.json, results.png)")


@app.command()
@one_line_errors
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders of evaluate, protocol or robustness.")],
    metric: Annotated[Metric, choice(Metric, "--metric", help="The figure compared.")] = Metric.auc,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write <out>.md, <out>.csv and <out>.png.")
    ] = None,
):
    """Compare runs side by side: one column per run, frame- and video-level in separate tables."""
    from fakelens.evaluate.results import compare_runs, comparison_markdown, plot_comparison, write_csv

    metric = metric.value
    names, rows = compare_runs(runs, metric)
    for level in ("frame_level", "video_level"):
        chosen = [r for r in rows if r["level"] == level]
        if not chosen:
            continue
        table = Table(title=f"{metric.upper()}, {level.replace('_', '-')}")
        for col in ("test", "subset", *names):
            table.add_column(col, overflow="fold")
        for r in chosen:
            cells = ["n/a" if r.get(n) is None else f"{r[n]:.4f}" for n in names]
            table.add_row(Text(r["test"] or "-"), Text(r["subset"]), *cells)
        out_console.print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(comparison_markdown(names, rows, metric))
        write_csv(rows, out.with_suffix(".csv"), ["test", "level", "subset", *names])
        plot_comparison(names, rows, metric, out.with_suffix(".png"))
        err_console.print(f"comparison in {out.with_suffix('.md')}, .csv and .png")
