"""Read labelled file lists (CSV, TSV or JSON Lines) for evaluation and training.

A manifest is the only source of labels and video ids: nothing is inferred from folder
names. Every problem becomes a one-line :class:`FakelensError` naming the manifest and,
where it applies, the line number, so a user can fix the file without a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakelens.errors import FakelensError

__all__ = ["ManifestRow", "read_manifest"]

_LABELS = {"0": 0, "1": 1, "real": 0, "fake": 1, "false": 0, "true": 1}
_LABEL_HELP = "0, 1, real, fake"
_REQUIRED = ("path", "label")
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True)
class ManifestRow:
    """One labelled file; ``label`` is 1 for fake, 0 for real."""

    path: Path
    label: int
    video_id: str | None
    method: str | None
    dataset: str | None = None  # which dataset the row comes from (protocols select by it)
    split: str | None = None  # train / val / test as the dataset (or ``fakelens prepare``) defines it
    frame: int | None = None  # frame index in the source video: faces of one frame score as one sample
    aligned: str | None = None  # an aligned crop made under this FaceConfig fingerprint (prepare, synth)
    group: str | None = None  # person or source collection: splits keep a group together
    # every group the row was made from (synth: a fake's target and its donor or driving clip), so a
    # recipe that leaves a group out drops fakes built from it too
    source_groups: tuple[str, ...] = ()
    face: int | None = None  # index of the face in its frame (prepare: largest first)
    box: tuple[float, float, float, float] | None = None  # the face's box in the frame: links tracks


def _parse_label(value: Any, lineno: int, where: Path) -> int:
    """Accept the spellings datasets actually use; reject anything ambiguous."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    key = str(value).strip().lower() if value is not None else ""
    if key in _LABELS:
        return _LABELS[key]
    shown = "" if value is None else str(value).strip()
    raise FakelensError(f"line {lineno}: label '{shown}' is not one of {_LABEL_HELP}", where)


def _optional(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_frame(value: Any, lineno: int, where: Path, column: str = "frame") -> int | None:
    text = _optional(value)
    if text is None:
        return None
    try:
        frame = int(text)
    except ValueError:
        raise FakelensError(f"line {lineno}: {column} '{text}' is not a whole number", where) from None
    if frame < 0:
        raise FakelensError(f"line {lineno}: {column} {frame} is negative", where)
    return frame


def _parse_box(value: Any, lineno: int, where: Path) -> tuple[float, float, float, float] | None:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise FakelensError(f"line {lineno}: box '{text}' is not a list of 4 numbers", where) from None
    if value is None:
        return None
    if not (
        isinstance(value, list | tuple) and len(value) == 4 and all(isinstance(v, int | float) for v in value)
    ):
        raise FakelensError(f"line {lineno}: box {value!r} is not a list of 4 numbers", where)
    return tuple(float(v) for v in value)


def _make_row(record: dict[str, Any], lineno: int, where: Path, base: Path) -> ManifestRow:
    raw_path = _optional(record.get("path"))
    if raw_path is None:
        raise FakelensError(f"line {lineno}: empty path", where)
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = base / path
    return ManifestRow(
        path=path,
        label=_parse_label(record.get("label"), lineno, where),
        video_id=_optional(record.get("video_id")),
        method=_optional(record.get("method")),
        dataset=_optional(record.get("dataset")),
        split=_optional(record.get("split")),
        frame=_parse_frame(record.get("frame"), lineno, where),
        aligned=_optional(record.get("aligned")),
        group=_optional(record.get("group")),
        source_groups=_source_groups(record.get("source_groups")),
        face=_parse_frame(record.get("face"), lineno, where, "face"),
        box=_parse_box(record.get("box"), lineno, where),
    )


def _source_groups(value: Any) -> tuple[str, ...]:
    """A JSON list, or ``a;b`` in a CSV/TSV cell."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else str(value).split(";")
    return tuple(str(v).strip() for v in items if str(v).strip())


def _columns_text(columns: list[str]) -> str:
    return ", ".join(c for c in columns if c) or "none"


def read_text(where: Path, expected: str) -> str:
    """A listing's text; not UTF-8 or unreadable is a one-line FakelensError naming the file."""
    try:
        return where.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FakelensError(f"not UTF-8 text (expected {expected})", where) from None
    except OSError as exc:
        raise FakelensError(exc.strerror or str(exc), where) from None


def read_delimited(
    text: str,
    delimiter: str,
    where: Path,
    required: tuple[str, ...] = _REQUIRED,
    quoting: int = csv.QUOTE_MINIMAL,
    header_out: list[str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, row)``; header names are matched case-insensitively, a missing
    ``required`` column is a one-line error, and the header is appended to ``header_out``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    header: list[str] | None = None
    try:
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # blank line
            if header is None:
                header = [f.strip().lower() for f in fields]
                if header_out is not None:
                    header_out.extend(header)
                for col in required:
                    if col not in header:
                        raise FakelensError(
                            f"missing column '{col}' (columns are: {_columns_text(header)})", where
                        )
                continue
            yield reader.line_num, dict(zip(header, fields, strict=False))
    except csv.Error as exc:
        raise FakelensError(f"line {reader.line_num}: malformed CSV ({exc})", where) from None


def _read_jsonl(text: str, where: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FakelensError(
                f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})", where
            ) from None
        if not isinstance(record, dict):
            kind = type(record).__name__
            raise FakelensError(f"line {lineno}: expected a JSON object, got {kind}", where)
        record = {str(k).lower(): v for k, v in record.items()}
        for col in _REQUIRED:
            if col not in record:
                raise FakelensError(
                    f"line {lineno}: missing column '{col}' (columns are: {_columns_text(list(record))})",
                    where,
                )
        yield lineno, record


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Load a manifest; relative file paths resolve against the manifest's own folder.

    Format by extension: ``.jsonl``/``.ndjson`` → JSON Lines, ``.tsv`` → tab-separated,
    anything else → comma-separated with a header row. Required columns: ``path``,
    ``label``; optional: ``video_id``, ``method``, ``dataset``, ``split``, ``frame``, ``aligned``,
    ``group``, ``face``, ``box``;
    others are ignored.
    """
    where = Path(path)
    if not where.exists():
        raise FakelensError("no such file", where)
    if where.is_dir():
        raise FakelensError("is a directory, expected a manifest file", where)
    text = read_text(where, "CSV, TSV or JSON Lines")

    base = where.absolute().parent
    suffix = where.suffix.lower()
    if suffix in _JSONL_SUFFIXES:
        records = _read_jsonl(text, where)
    else:
        records = read_delimited(text, "\t" if suffix == ".tsv" else ",", where)
    rows = [_make_row(record, lineno, where, base) for lineno, record in records]
    if not rows:
        raise FakelensError("no rows", where)
    return rows
