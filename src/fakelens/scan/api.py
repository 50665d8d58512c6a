"""The Python API behind ``fakelens scan``; the CLI is a thin layer over it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fakelens.errors import FakelensError
from fakelens.media import iter_media
from fakelens.models.loading import load_detector
from fakelens.models.scorer import Scorer
from fakelens.records import FileRecord
from fakelens.scan.output import JsonlWriter, check_outputs, done_files, path_key
from fakelens.scan.scanner import FileResult, Scanner, ScanOptions


class Inputs(NamedTuple):
    files: list[Path]  # to scan, each to get one record
    empty: list[Path]  # given folders without media: one error record each
    skipped: list[tuple[Path, str]]  # found in folders but not scanned, and why (hidden, not media)


def collect_inputs(paths: Iterable[str | Path]) -> Inputs:
    """The files to scan (folders expanded; a missing path kept, so it gets its own error record),
    the given folders that hold no media and what the folders held that is not scanned. Raises a
    one-line ``FakelensError`` when nothing is left."""
    given = [Path(p) for p in paths]
    skipped: list[tuple[Path, str]] = []
    files = list(iter_media(given, skipped=skipped))
    empty = [p for p in given if p.is_dir() and not any(f.is_relative_to(p) for f in files)]
    if not files:
        where = f"no image or video files in '{empty[0]}'" if empty else "no paths given"
        more = f" (nor in the {len(empty) - 1} other folder(s))" if len(empty) > 1 else ""
        raise FakelensError(f"nothing to scan: {where}{more}; folders are searched recursively")
    return Inputs(files, empty, skipped)


def skipped_summary(skipped: list[tuple[Path, str]]) -> str:
    """``3 skipped: 2 hidden (...), 1 not an image or video (...)``, or '' when none."""
    if not skipped:
        return ""
    reasons = Counter(reason for _, reason in skipped)
    return f"{len(skipped)} skipped: " + ", ".join(f"{n} {r}" for r, n in reasons.most_common())


def empty_folder_record(folder: Path, detector) -> FileResult:
    reason = FakelensError(
        "no image or video files (searched recursively)", folder, verb="nothing to scan in"
    )
    record = FileRecord(
        str(folder), "unknown", "error", None, 0, 0, 0, reason.message, detector.name, detector.threshold
    )
    return FileResult(record)


def scan_paths(
    paths: Iterable[str | Path],
    out: str | Path | None = None,
    *,
    model: str | Path | Scorer | None = None,
    options: ScanOptions | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    report: str | Path | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> list[FileRecord]:
    """Scan images, videos and folders (recursively); returns one ``FileRecord`` per file.

    A file that cannot be read, a missing path and a given folder without media each get an
    ``error`` record and the batch goes on; no media at all raises ``FakelensError`` before any model
    is loaded; a failure of the model raises ``ModelFailure`` (records written so far are kept).
    With ``out``, records go to a JSONL file as each file finishes; ``resume=True`` skips files that
    already have a file record there (matched by resolved path; ``retry_errors=True`` scans files
    whose record is an error again, replacing it). With ``report``, an HTML report is written at the
    end. An ``out`` or ``report`` that is an input, or an ``out`` fakelens did not write, is refused;
    so is a second scan writing the same ``out`` at once.
    """
    files, empty, _ = collect_inputs(paths)
    check_outputs(files, None if out is None else Path(out), None if report is None else Path(report))
    detector = model if isinstance(model, Scorer) else load_detector(model)
    options = options or ScanOptions()
    if report is not None and options.keep_evidence == 0:
        options = replace(options, keep_evidence=3)
    scanner = Scanner(detector, options)
    resume = resume or retry_errors  # retrying errors means keeping the rest
    if report is not None:
        from fakelens.scan.report import render_section, write_report

        write_report([], report, detector)  # fails now, not after hours, if the path is unusable
    # the lock and the repair come before reading what is done
    writer = JsonlWriter(out, append=resume, retry_errors=retry_errors) if out is not None else None
    try:
        skip = done_files(out, retry_errors) if (out is not None and resume) else set()
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    todo = [f for f in files if path_key(f) not in skip]
    empty = [d for d in empty if path_key(d) not in skip]
    console = console or Console(stderr=True)
    records: list[FileRecord] = []
    sections: list[tuple[FileRecord, str]] = []
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
        for folder in empty:
            result = empty_folder_record(folder, detector)
            if writer is not None:
                writer.write(result)
            records.append(result.record)
            if report is not None:
                sections.append((result.record, render_section(result, detector)))
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
