"""JSONL output written as results arrive (line-buffered, flushed per file), and ``--resume``.

The output is guarded: it may not be one of the inputs (nor the report), an existing file that is
not fakelens JSONL is never truncated or "repaired" away, and an advisory lock stops a second scan
from interleaving lines into the same file."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterable
from pathlib import Path

from fakelens.errors import FakelensError
from fakelens.records import record_file, to_json
from fakelens.scan.scanner import FileResult

RECORD_TYPES = ("file", "face")


def path_key(name: str | Path) -> str:
    """One spelling per file (absolute, links resolved) so ``a.jpg`` and ``/here/a.jpg`` match."""
    try:
        return str(Path(name).resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return str(Path(name).absolute())


def scan_records(path: Path) -> Iterable[dict]:
    """The face and file records of a scan's JSONL (unparsable lines, e.g. a torn last one, skipped)."""
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("type") in RECORD_TYPES:
                yield rec


def done_files(jsonl: str | Path, retry_errors: bool = False) -> set[str]:
    """Files (by :func:`path_key`) that already have a file record in ``jsonl``; a torn last line
    (interrupted write) is ignored, so that file is scanned again; with ``retry_errors`` files whose
    record is an error count as not done."""
    path = Path(jsonl)
    if not path.is_file():
        return set()
    return {
        path_key(record_file(rec))
        for rec in scan_records(path)
        if rec["type"] == "file" and not (retry_errors and rec.get("verdict") == "error")
    }


def check_outputs(inputs: Iterable[Path], out: Path | None, report: Path | None) -> None:
    """Refuse an output that would destroy an input, the other output, or a file fakelens did not
    write (one line naming it)."""
    given = {path_key(p) for p in inputs}
    for flag, target in (("--out", out), ("--report", report)):
        if target is not None and path_key(target) in given:
            raise FakelensError(f"{flag} is one of the files to scan: not overwritten", target, "refusing")
    if out is not None and report is not None and path_key(out) == path_key(report):
        raise FakelensError("--out and --report name the same file", out, "refusing")
    if out is not None and Path(out).is_file() and not is_scan_jsonl(Path(out)):
        raise FakelensError(
            "exists and is not fakelens scan output: not overwritten (move it or choose another --out)",
            out,
            "refusing",
        )


def is_scan_jsonl(path: Path) -> bool:
    """Empty, or its first line is a fakelens face or file record."""
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    try:
        rec = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(rec, dict) and rec.get("type") in RECORD_TYPES


def repair(jsonl: str | Path, drop_errors: bool = False) -> None:
    """Cut everything after the last complete file record: a torn line and the face records of a
    file whose scan was interrupted (it will be scanned again, so they would be duplicated). With
    ``drop_errors``, error records go too (``--retry-errors`` scans those files again)."""
    path = Path(jsonl)
    if not path.is_file():
        return
    data = path.read_bytes()
    kept: list[bytes] = []
    keep = 0  # bytes of ``kept`` up to the last complete file record
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            kept.append(line)
            continue
        if (
            drop_errors
            and isinstance(rec, dict)
            and rec.get("type") == "file"
            and rec.get("verdict") == "error"
        ):
            continue  # an error record has no face records
        kept.append(line)
        if isinstance(rec, dict) and rec.get("type") == "file":
            keep = len(kept)
    repaired = b"".join(kept[:keep])
    if repaired != data:
        path.write_bytes(repaired)


class JsonlWriter:
    """Appends a file's face records then its file record, and flushes: a crash loses at most
    the file being scanned, never one already reported. ``append=True`` repairs the file first.
    Holds an advisory lock on the file while open: a second writer is refused, not interleaved."""

    def __init__(self, path: str | Path, append: bool, retry_errors: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")  # never truncates before the lock is held
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise FakelensError("another scan is writing it (locked)", self.path, "cannot write") from None
        except OSError:  # a file system without locks (some network mounts): write unguarded
            pass
        if not self.path.is_file():  # /dev/stdout, /dev/null, a pipe: nothing to repair or truncate
            return
        if append:
            repair(self.path, drop_errors=retry_errors)
        else:
            self._fh.truncate(0)

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
