"""Command line: a thin Typer layer over the Python API. Errors print one line, never a traceback."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fakelens.errors import FakelensError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Find forged faces in images and videos.")
err_console = Console(stderr=True)
out_console = Console()

_VERDICT_STYLE = {"fake": "bold red", "real": "green", "no_face": "dim", "error": "yellow"}


def _version(value: bool) -> None:
    if value:
        from fakelens import __version__

        out_console.print(f"fakelens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Find forged faces in images and videos."""


def _print_error(message: str) -> None:
    # Text, not markup: a path may contain [brackets]; soft_wrap keeps the error on one line
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def _one_line_errors(func):
    """Turn expected failures into ``error: <one line>`` and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except FakelensError as err:
            _print_error(err.message)
            raise typer.Exit(2) from None
        except OSError as err:  # output folder missing, permission denied, disk full ...
            where = f"'{err.filename}': " if err.filename else ""
            _print_error(f"{where}{err.strerror or err}")
            raise typer.Exit(2) from None
        except (ValueError, RuntimeError) as err:
            _print_error(" ".join(str(err).split()))
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_one_line_errors
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Images, videos or folders (searched recursively).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="JSONL file of per-face and per-file records.")
    ] = Path("scan-results.jsonl"),
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    frames: Annotated[
        int, typer.Option(min=1, help="Frames sampled evenly over each video's duration.")
    ] = 32,
    every: Annotated[
        int | None, typer.Option(min=1, help="Sample every k-th frame instead of --frames.")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Override the model's fake threshold.")] = None,
    resume: Annotated[bool, typer.Option(help="Skip files already in --out; append new records.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with crops and heat maps.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    backend: Annotated[
        str, typer.Option(help="torch, onnx (ONNX Runtime) or auto (onnx when installed).")
    ] = "auto",
):
    """Scan PATHS; one JSONL record per face and per file; a summary table at the end."""
    from fakelens.models.detector import load_detector
    from fakelens.scan.api import scan_paths
    from fakelens.scan.scanner import ScanOptions

    detector = load_detector(model, backend=backend)
    if report is not None and not getattr(detector, "can_explain", True):
        detector.model  # noqa: B018 - raises the one-line reason before any file is scanned
    if threshold is not None:
        detector.threshold = threshold
    options = ScanOptions(num_frames=frames, every=every)
    records = scan_paths(
        paths,
        out,
        model=detector,
        options=options,
        resume=resume,
        report=report,
        progress=not quiet,
        console=err_console,
    )
    if quiet:
        return
    table = Table(
        title=f"fakelens scan - model {detector.name} ({detector.backend}), threshold {detector.threshold:.3f}"
    )
    for col in ("file", "verdict", "score", "faces", "frames", "note"):
        table.add_column(col, overflow="fold")
    for r in records:
        note = r.error or (f"{r.faceless_frames} frame(s) without a face" if r.faceless_frames else "")
        score = "" if r.score is None else f"{r.score:.3f}"
        table.add_row(
            Text(r.file),
            Text(r.verdict, style=_VERDICT_STYLE[r.verdict]),
            score,
            str(r.faces),
            str(r.frames),
            Text(note),
        )
    out_console.print(table)
    err_console.print(
        f"{len(records)} file(s) scanned; records in {out}" + (f"; report in {report}" if report else "")
    )


@app.command()
@_one_line_errors
def train(
    config: Annotated[Path, typer.Argument(help="Training recipe (YAML).")],
    out: Annotated[Path | None, typer.Option(help="Run folder (overrides out_dir in the config).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from <out>/last if it exists.")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config key: train.epochs=3")
    ] = None,
):
    """Train a detector on real faces with self-blended fakes made on the fly."""
    import yaml

    from fakelens.train.config import TrainConfig
    from fakelens.train.loop import train as run_training

    overrides = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    if out is not None:
        overrides["out_dir"] = str(out)
    cfg = TrainConfig.from_yaml(config, overrides)
    folder = run_training(cfg, resume=resume)
    out_console.print(f"checkpoint: {folder}")


@app.command()
@_one_line_errors
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
    backend: Annotated[str, typer.Option(help="torch, onnx or auto (onnx when installed).")] = "auto",
):
    """Frame- and video-level AUC, AP, EER and accuracy of a model on a labelled manifest."""
    from fakelens.evaluate.run import evaluate_manifest
    from fakelens.forge.perturb import parse_perturbations
    from fakelens.models.detector import load_detector

    specs = parse_perturbations(perturb) if perturb is not None else []
    model = load_detector(model, backend=backend)
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
        fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
        table.add_row(
            level.replace("_", "-"),
            str(m["n"]),
            str(m["n_real"]),
            str(m["n_fake"]),
            fmt(m["auc"]),
            fmt(m["ap"]),
            fmt(m["eer"]),
            fmt(m["acc"]),
        )
    out_console.print(table)
    err_console.print(f"results in {out}/ (metrics.json, scores.jsonl, roc.png)")


@app.command()
@_one_line_errors
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
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    for r in summary["rows"]:
        level = r["level"].replace("_", "-")
        counts = (str(r["n_real"]), str(r["n_fake"]))
        table.add_row(r["fold"], Text(r["test"]), level, *counts, fmt(r["auc"]), fmt(r["ap"]), fmt(r["eer"]))
    out_console.print(table)
    for plan in summary["folds"]:
        for warning in plan["warnings"]:
            err_console.print(Text.assemble(("warning: ", "yellow"), warning), soft_wrap=True)
    err_console.print(f"results in {out}/ (results.md, results.csv, results.json, results.png)")


@app.command()
@_one_line_errors
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders of evaluate, protocol or robustness.")],
    metric: Annotated[str, typer.Option(help="auc, ap, eer or acc.")] = "auc",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Also write <out>.md, <out>.csv and <out>.png.")
    ] = None,
):
    """Compare runs side by side: one column per run, frame- and video-level in separate tables."""
    from fakelens.evaluate.results import compare_runs, comparison_markdown, plot_comparison, write_csv

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


@app.command()
@_one_line_errors
def prepare(
    src: Annotated[Path, typer.Argument(help="Root folder of the raw dataset.")],
    layout: Annotated[str, typer.Option(help="ffpp | celebdf | dfdc | df40 | generic")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for faces/, manifest.jsonl, report.")],
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled evenly over each video.")] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Processes, each with its own face pipeline.")] = 2,
    splits: Annotated[Path | None, typer.Option(help="Folder with FF++ train/val/test.json.")] = None,
    compression: Annotated[str, typer.Option(help="FF++ quality: raw | c23 | c40.")] = "c23",
    max_faces: Annotated[int, typer.Option(min=1, help="Faces kept per frame (largest first).")] = 1,
    resume: Annotated[bool, typer.Option(help="Skip items finished by an earlier run into --out.")] = True,
):
    """Turn a raw deepfake dataset into aligned face crops, landmarks, masks and a manifest."""
    from fakelens.data.prepare import prepare_dataset

    s = prepare_dataset(
        src,
        layout,
        out,
        frames=frames,
        workers=workers,
        max_faces=max_faces,
        splits_dir=splits,
        compression=compression,
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


@app.command()
@_one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    backend: Annotated[str, typer.Option(help="Inference backend: torch, onnx or auto.")] = "torch",
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload accepted.")] = 200.0,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Most pixels per image or video frame.")
    ] = 40_000_000,
    max_video_s: Annotated[float, typer.Option(min=0.001, help="Longest video accepted, seconds.")] = 600.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Per-request limit (upload, image scan), seconds.")
    ] = 60.0,
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled evenly over each video.")] = 32,
):
    """Serve the scanner over HTTP: POST /v1/scan, GET /v1/jobs/ID, a web page at /."""
    from fakelens.serve import ServeSettings
    from fakelens.serve import serve as run_server

    settings = ServeSettings(
        host=host,
        port=port,
        model=model,
        backend=backend,
        max_upload_mb=max_upload_mb,
        max_pixels=max_pixels,
        max_video_s=max_video_s,
        request_timeout_s=timeout,
        num_frames=frames,
    )
    err_console.print(f"fakelens serve: http://{host}:{port}/  (API docs at /docs)", soft_wrap=True)
    run_server(settings)


@app.command()
@_one_line_errors
def synth(
    real_dir: Annotated[Path, typer.Argument(help="Folder of real face images (and videos, for vblend).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (PNGs, masks, manifest.jsonl).")],
    methods: Annotated[
        str, typer.Option(help="Comma-separated: sbi, faceswap, freda, hfmask, vblend.")
    ] = "sbi,faceswap,freda,hfmask,vblend",
    per_face: Annotated[int, typer.Option(min=1, help="Fakes per real face (or video) and method.")] = 1,
    seed: Annotated[int, typer.Option(help="Fixes every random choice.")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N files.")] = None,
    frames: Annotated[int, typer.Option(min=2, help="Frames sampled evenly per video (vblend).")] = 8,
):
    """Write a labelled set of forgeries (with masks) made from real faces, for training or evaluation."""
    from fakelens.data.synth import synthesize

    s = synthesize(
        real_dir, out, methods.split(","), per_face=per_face, seed=seed, limit=limit, video_frames=frames
    )
    out_console.print(", ".join(f"{k}: {v}" for k, v in s.counts.items()) + f" -> {s.manifest}", soft_wrap=True)
    for note in s.notes:
        err_console.print(f"note: {note}", soft_wrap=True)
    for path, reason in s.skipped:
        err_console.print(Text(f"skipped '{path}': {reason}", style="yellow"), soft_wrap=True)


@app.command()
@_one_line_errors
def export(
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format so far).")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default ./<name>-onnx) or a .onnx file path.")
    ] = None,
    opset: Annotated[int, typer.Option(min=7, help="ONNX opset version.")] = 17,
):
    """Export a checkpoint to model.onnx (dynamic batch) beside a copy of its config.json."""
    from fakelens.models.onnx_backend import export_onnx

    if not onnx:
        raise ValueError("choose a format: --onnx (the only one so far)")
    path = export_onnx(model, out, opset=opset)
    out_console.print(
        f"exported {path} (checked against PyTorch); load it with --model "
        f"{path.parent if path.name == 'model.onnx' else path}",
        soft_wrap=True,
        markup=False,
    )


@app.command("models")
def models_cmd():
    """List architectures and shipped checkpoints."""
    from fakelens.models import list_models
    from fakelens.models.detector import DEFAULT_MODEL, shipped_models

    out_console.print("architectures: " + ", ".join(list_models()))
    for name, folder in shipped_models().items():
        mark = " (default)" if name == DEFAULT_MODEL else ""
        out_console.print(f"shipped: {name}{mark} -> {folder}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
