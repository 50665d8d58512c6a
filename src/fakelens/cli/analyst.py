"""Analyst commands: scan files, serve the scanner over HTTP, export and list models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from fakelens.cli._common import VERDICT_STYLE, app, err_console, one_line_errors, out_console, print_error
from fakelens.cli.choices import Backend, Engine, ShardFormat, choice
from fakelens.errors import ConfigError


@app.command()
@one_line_errors
def scan(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Images, videos or folders (searched recursively); with --engine ray also list files."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="JSONL file of per-face and per-file records [default: scan-results.jsonl]; "
            "with --engine ray a folder of shards [default: scan-results/].",
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    frames: Annotated[
        int, typer.Option(min=1, help="Frames sampled evenly over each video's duration.")
    ] = 32,
    every: Annotated[
        int | None, typer.Option(min=1, help="Sample every k-th frame instead of --frames.")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Override the model's fake threshold (images and videos alike).")
    ] = None,
    max_faces: Annotated[
        int, typer.Option(min=1, help="Faces examined per frame, largest first; the rest are counted.")
    ] = 64,
    whole_image: Annotated[
        bool,
        typer.Option(
            help="Also score the whole picture of one-face images (generated portraits); the higher wins."
        ),
    ] = False,
    resume: Annotated[bool, typer.Option(help="Skip files already in --out; append new records.")] = False,
    retry_errors: Annotated[
        bool, typer.Option(help="Resume, and scan files whose record is an error again.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with crops and heat maps.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    backend: Annotated[
        Backend,
        choice(Backend, "--backend", help="torch, onnx (ONNX Runtime) or auto (onnx when installed)."),
    ] = Backend.auto,
    engine: Annotated[
        Engine,
        choice(
            Engine,
            "--engine",
            help="local (one process) or ray (a pool of workers; pip install 'fakelens[ray]').",
        ),
    ] = Engine.local,
    workers: Annotated[int, typer.Option(min=1, help="--engine ray: workers, each with its own model.")] = 2,
    threads_per_worker: Annotated[int, typer.Option(min=1, help="--engine ray: CPU cores per worker.")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(min=0.0, help="--engine ray: GPUs per worker.")] = 0.0,
    shard_format: Annotated[
        ShardFormat, choice(ShardFormat, "--format", help="--engine ray: jsonl or parquet shards.")
    ] = ShardFormat.jsonl,
):
    """Scan PATHS; one JSONL record per face and per file; a summary table at the end.

    An unreadable file, a missing path or a folder without media gets an error record and an 'error:' line.

    Exit status: 0 every file scanned; 1 some (or all) could not be read (the other results are kept); 2 stopped.

    The run stops (2) when there is nothing to scan, on a bad option, or when the model itself fails.
    """
    from fakelens.models.detector import load_detector
    from fakelens.models.scorer import set_threshold
    from fakelens.scan.api import collect_inputs, scan_paths, skipped_summary
    from fakelens.scan.scanner import ScanOptions

    if threshold is not None and not 0.0 <= threshold <= 1.0:  # also refuses nan: no comparison holds
        raise ConfigError(f"--threshold must be a score between 0 and 1, got {threshold}")
    options = ScanOptions(num_frames=frames, every=every, max_faces=max_faces, whole_image=whole_image)
    if engine == Engine.ray:
        if report is not None:
            raise ConfigError("--report is not made with --engine ray (scan a sample locally for a report)")
        return _scan_ray(
            paths,
            out or Path("scan-results"),
            model=model,
            options=options,
            backend=str(backend),
            threshold=threshold,
            workers=workers,
            threads_per_worker=threads_per_worker,
            gpus_per_worker=gpus_per_worker,
            fmt=str(shard_format),
            resume=resume,
            retry_errors=retry_errors,
            progress=not quiet,
        )
    out = out or Path("scan-results.jsonl")
    inputs = collect_inputs(paths)  # nothing to scan fails now, before the model loads
    detector = load_detector(model, backend=backend)
    if report is not None and not getattr(detector, "can_explain", True):
        detector.model  # noqa: B018 - raises the one-line reason before any file is scanned
    if threshold is not None:
        set_threshold(detector, threshold)
    records = scan_paths(
        [*inputs.files, *inputs.empty],  # already expanded and sniffed: not walked twice
        out,
        model=detector,
        options=options,
        resume=resume or retry_errors,
        retry_errors=retry_errors,
        report=report,
        progress=not quiet,
        console=err_console,
    )
    if not quiet:
        out_console.print(_scan_table(records, detector))
    failed = [r for r in records if r.verdict == "error"]
    for r in failed:  # on stderr even with -q: a script must not miss them
        print_error(r.error or f"cannot read '{r.file}'")
    if not quiet:
        not_read = f", {len(failed)} could not be read" if failed else ""
        skipped = f"; {skipped_summary(inputs.skipped)}" if inputs.skipped else ""
        crowded = sum(1 for r in records if r.faces_not_examined)
        if crowded:
            skipped += f"; {crowded} file(s) had faces beyond --max-faces {max_faces} left unexamined"
        err_console.print(
            f"{len(records)} file(s) scanned{not_read}{skipped}; records in {out}"
            + (f"; report in {report}" if report else "")
        )
    if failed:
        raise typer.Exit(1)


def _scan_ray(paths, out: Path, **kwargs) -> None:
    """``scan --engine ray``: shards under a folder, resumable by file (fakelens.scan.corpus)."""
    from fakelens.scan.corpus import scan_corpus

    summary = scan_corpus(paths, out, console=err_console, **kwargs)
    for message in summary.error_messages:  # on stderr even with -q, as the local engine does
        print_error(message)
    if summary.errors:
        raise typer.Exit(1)


def _scan_table(records, detector) -> Table:
    from fakelens.models.scorer import threshold_text

    table = Table(
        title=f"fakelens scan - model {detector.name} ({detector.backend}), threshold {threshold_text(detector)}"
    )
    for col in ("file", "verdict", "score", "faces", "frames", "note"):
        table.add_column(col, overflow="fold")
    for r in records:
        notes = [f"{r.faceless_frames} frame(s) without a face"] if r.faceless_frames else []
        if r.faces_not_examined:
            notes.append(f"{r.faces_not_examined} face(s) beyond --max-faces not examined")
        note = r.error or "; ".join(notes)
        score = "" if r.score is None else f"{r.score:.3f}"
        table.add_row(
            Text(r.file),
            Text(r.verdict, style=VERDICT_STYLE[r.verdict]),
            score,
            str(r.faces),
            str(r.frames),
            Text(note),
        )
    return table


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    model: Annotated[str | None, typer.Option(help="Checkpoint folder or shipped model name.")] = None,
    backend: Annotated[
        Backend,
        choice(Backend, "--backend", help="torch, onnx (ONNX Runtime) or auto (onnx when installed)."),
    ] = Backend.auto,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload accepted.")] = 100.0,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Most pixels per image or video frame.")
    ] = 40_000_000,
    max_video_s: Annotated[float, typer.Option(min=0.001, help="Longest video accepted, seconds.")] = 600.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Per-request limit (upload, image scan), seconds.")
    ] = 60.0,
    frames: Annotated[int, typer.Option(min=1, help="Frames sampled evenly over each video.")] = 32,
    max_queue: Annotated[
        int,
        typer.Option(min=1, help="Scans waiting (and uploads streaming) at once; more get 429."),
    ] = 32,
    max_uploads_per_client: Annotated[
        int, typer.Option(min=1, help="Uploads streaming in from one client address at once.")
    ] = 8,
    min_upload_kbps: Annotated[
        float, typer.Option(min=0.001, help="Slowest average upload rate kept after a 5 s grace, KB/s.")
    ] = 32.0,
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
        max_queue=max_queue,
        max_uploads_per_client=max_uploads_per_client,
        min_upload_kbps=min_upload_kbps,
    )
    err_console.print(f"fakelens serve: loading the model ({backend} backend)...", soft_wrap=True)
    run_server(settings)


@app.command()
@one_line_errors
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
    """List architectures, training methods and shipped checkpoints."""
    from fakelens.models import list_models
    from fakelens.models.detector import DEFAULT_MODEL, shipped_models
    from fakelens.models.methods import list_methods

    out_console.print("architectures: " + ", ".join(list_models()))
    out_console.print("training methods (recipe method.name): " + ", ".join(list_methods()))
    for name, folder in shipped_models().items():
        mark = " (default)" if name == DEFAULT_MODEL else ""
        out_console.print(f"shipped: {name}{mark} -> {folder}")
