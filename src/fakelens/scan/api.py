"""The Python API behind ``fakelens scan``; the CLI is a thin layer over it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fakelens.media import iter_media
from fakelens.models.detector import Detector, load_detector
from fakelens.records import FileRecord
from fakelens.scan.output import JsonlWriter, done_files
from fakelens.scan.scanner import Scanner, ScanOptions


def scan_paths(
    paths: Iterable[str | Path],
    out: str | Path | None = None,
    *,
    model: str | Path | Detector | None = None,
    options: ScanOptions | None = None,
    resume: bool = False,
    report: str | Path | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> list[FileRecord]:
    """Scan images, videos and folders (recursively); returns one ``FileRecord`` per file.

    With ``out``, records go to a JSONL file as each file finishes; ``resume=True`` skips files that
    already have a file record there. With ``report``, an HTML report is written at the end.
    """
    detector = model if isinstance(model, Detector) else load_detector(model)
    options = options or ScanOptions()
    if report is not None and options.keep_evidence == 0:
        options = ScanOptions(options.num_frames, options.every, options.trim, keep_evidence=3)
    scanner = Scanner(detector, options)
    files = list(iter_media(paths))
    writer = JsonlWriter(out, append=resume) if out is not None else None  # repairs before reading
    skip = done_files(out) if (out is not None and resume) else set()
    todo = [f for f in files if str(f) not in skip]
    console = console or Console(stderr=True)
    records: list[FileRecord] = []
    sections: list[tuple[FileRecord, str]] = []
    if report is not None:
        from fakelens.scan.report import render_section, write_report

        write_report([], report, detector)  # fails now, not after hours, if the path is unusable
    bar = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}", markup=False),
        console=console,
        disable=not progress,
        transient=True,
    )
    try:
        with bar:
            task = bar.add_task("scan", total=len(todo), current="")
            for path in todo:
                bar.update(task, current=path.name)
                result = scanner.scan_file(path)
                if writer is not None:
                    writer.write(result)
                records.append(result.record)
                if report is not None:
                    sections.append((result.record, render_section(result, detector)))
                bar.advance(task)
    finally:
        if writer is not None:
            writer.close()
    if report is not None:
        write_report(sections, report, detector)
    return records
