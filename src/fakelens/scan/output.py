"""JSONL output written as results arrive (line-buffered, flushed per file), and ``--resume``."""

from __future__ import annotations

import json
from pathlib import Path

from fakelens.records import to_json
from fakelens.scan.scanner import FileResult


def done_files(jsonl: str | Path) -> set[str]:
    """Files that already have a file record in ``jsonl``; a torn last line (interrupted write) is
    ignored, so that file is scanned again."""
    path = Path(jsonl)
    done: set[str] = set()
    if not path.is_file():
        return done
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("type") == "file":
                done.add(rec["file"])
    return done


def repair(jsonl: str | Path) -> None:
    """Cut everything after the last complete file record: a torn line and the face records of a
    file whose scan was interrupted (it will be scanned again, so they would be duplicated)."""
    path = Path(jsonl)
    if not path.is_file():
        return
    data = path.read_bytes()
    keep = pos = 0
    for line in data.splitlines(keepends=True):
        pos += len(line)
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(rec, dict) and rec.get("type") == "file":
            keep = pos
    if keep != len(data):
        path.write_bytes(data[:keep])


class JsonlWriter:
    """Appends a file's face records then its file record, and flushes: a crash loses at most
    the file being scanned, never one already reported. ``append=True`` repairs the file first."""

    def __init__(self, path: str | Path, append: bool):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if append:
            repair(self.path)
        self._fh = self.path.open("a" if append else "w", encoding="utf-8")

    def write(self, result: FileResult) -> None:
        lines = [to_json(r) for r in result.faces] + [to_json(result.record)]
        self._fh.write("\n".join(lines) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
