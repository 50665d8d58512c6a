"""A folder described by its own ``MANIFEST.tsv`` (the ``../shared/data`` folders): the listing, not
the folder names, says what each file is.

Columns (header names in any case): ``relative_path``, ``label`` (real/fake) and ``method`` are
required; ``dataset`` and ``group`` are kept when present. The split is hashed from ``group`` alone
(the source collection: one person may appear in several clips of it), so every file of a group, in
this folder or another one listing the same group, lands in one split. A manifest without a
``group`` column (the still-photo folders) groups by ``source_repo``, else by the top folder of the
path, with a note: a whole source collection per split is coarse, but never splits one file by file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from fakelens.data.layouts.base import Item
from fakelens.data.manifest import read_delimited, read_text
from fakelens.data.splits import split_of
from fakelens.errors import FakelensError
from fakelens.media.kinds import MEDIA_EXTENSIONS

MANIFEST_NAME = "MANIFEST.tsv"
REQUIRED = ("relative_path", "label", "method")
_LABELS = {"real": 0, "fake": 1, "0": 0, "1": 1}


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) of a TSV; TSV has no quoting, so quotes stay literal."""
    header: list[str] = []
    text = read_text(path, "a tab-separated MANIFEST.tsv")
    records = read_delimited(text, "\t", path, REQUIRED, csv.QUOTE_NONE, header_out=header)
    rows = [(lineno, {k: v.strip() for k, v in row.items()}) for lineno, row in records]
    if not header:
        raise FakelensError("empty (expected a header row: relative_path, label, method, ...)", path)
    return header, rows


def _group_key(row: dict[str, str], has_group: bool, has_repo: bool) -> str:
    if has_group:
        return row.get("group", "")
    if has_repo and row.get("source_repo"):
        return row["source_repo"]
    return Path(row["relative_path"]).parts[0]


def parse_manifest(root: Path, *, notes: list[str] | None = None) -> list[Item]:
    """Every file ``MANIFEST.tsv`` lists; a listed file that is absent or not media is skipped with
    a note (what prepare-report.json lists), a malformed row is a one-line error naming its line."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FakelensError(f"no {MANIFEST_NAME} (expected columns {', '.join(REQUIRED)}, group, ...)", root)
    notes = [] if notes is None else notes
    header, rows = _read_rows(path)
    has_group, has_repo = "group" in header, "source_repo" in header
    if rows and not has_group:
        by = "source_repo" if has_repo else "the top folder of relative_path"
        notes.append(f"manifest: {path} has no 'group' column: files are grouped (and split) by {by}")
    folder = re.sub(r"[^A-Za-z0-9._-]+", "_", root.resolve().name) or "manifest"
    items: list[Item] = []
    first: dict[str, int] = {}
    for lineno, row in rows:
        rel = row.get("relative_path", "")
        if not rel:
            raise FakelensError(f"line {lineno}: empty relative_path", path)
        label = _LABELS.get(row.get("label", "").lower())
        if label is None:
            raise FakelensError(f"line {lineno}: label '{row.get('label', '')}' is not real or fake", path)
        method = row.get("method", "")
        if not method:
            raise FakelensError(f"line {lineno}: empty method", path)
        group = _group_key(row, has_group, has_repo)
        if not group:
            raise FakelensError(f"line {lineno}: empty group (it decides the split)", path)
        source = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise FakelensError(f"line {lineno}: '{rel}' is not inside the folder", path)
        video_id = f"{folder}/{Path(rel).with_suffix('').as_posix()}"
        if video_id in first:
            raise FakelensError(
                f"line {lineno}: '{rel}' has the video id of line {first[video_id]} ({video_id})", path
            )
        first[video_id] = lineno
        skip = _why_skip(source)
        if skip is not None:
            notes.append(f"manifest: line {lineno}: '{rel}' {skip}; skipped")
            continue
        dataset = row.get("dataset") or folder
        items.append(Item(source, label, dataset, method, video_id, split_of(group), group=group))
    return items


def _why_skip(source: Path) -> str | None:
    if source.is_dir():
        return None  # a frames folder: prepare reports it when it holds no images
    if not source.is_file():
        return "is listed but not present"
    if source.suffix.lower() not in MEDIA_EXTENSIONS:
        return f"is not an image or a video ({source.suffix or 'no extension'})"
    return None
