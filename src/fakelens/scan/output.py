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


class JsonlWriter:
    """Appends a file's face records then its file record, and flushes: a crash loses at most
    the file being scanned, never one already reported."""

    def __init__(self, path: str | Path, append: bool):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if append and self.path.is_file():
            self._repair_tail()
        self._fh = self.path.open("a" if append else "w", encoding="utf-8")

    def _repair_tail(self) -> None:
        """Cut a torn last line so appended records start on a line of their own."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

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
