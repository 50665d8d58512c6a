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
):
    """Scan PATHS; one JSONL record per face and per file; a summary table at the end."""
    from fakelens.models.detector import load_detector
    from fakelens.scan.api import scan_paths
    from fakelens.scan.scanner import ScanOptions

    detector = load_detector(model)
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
    table = Table(title=f"fakelens scan - model {detector.name}, threshold {detector.threshold:.3f}")
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
):
    """Frame- and video-level AUC, AP, EER and accuracy of a model on a labelled manifest."""
    from fakelens.evaluate.run import evaluate_manifest

    result = evaluate_manifest(manifest, out, model=model, num_frames=frames)
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
