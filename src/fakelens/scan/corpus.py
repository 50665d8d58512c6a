"""``fakelens scan --engine ray``: corpus-scale scanning on Ray Data (issue 14, item 2).

A corpus (folders, or a text file listing one path per line) is streamed through a pool of Ray
actors, each holding one loaded detector and scanning one file at a time with the local
:class:`~fakelens.scan.scanner.Scanner`: the records and the verdict rule are the local scanner's,
line for line (only ``seconds`` differs). Ray Data's streaming executor gives the backpressure (a
bounded number of files in flight, not the whole corpus in memory); the driver writes what comes
back into shards under ``--out`` (JSONL as the local scanner writes it, or Parquet: one row per
file, the face records as a JSON column), ``rows_per_shard`` files each. ``resume`` skips every
file that already has a file record in a shard, so a killed run continues where it stopped: a
JSONL shard loses at most the file being written (resuming repairs it as ``--resume`` does a
local JSONL), a Parquet shard the files not yet flushed; they are scanned again. With
``retry_errors`` error records are dropped from JSONL shards and the files scanned again; in
Parquet shards the old error rows stay beside the newer shard's record.

Ray is optional (``pip install fakelens[ray]``); the local scanner stays the default.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console

from fakelens.errors import FakelensError
from fakelens.records import record_file, to_json
from fakelens.scan.api import collect_inputs, empty_folder_record
from fakelens.scan.output import done_files, is_scan_jsonl, path_key, repair
from fakelens.scan.scanner import ScanOptions

FORMATS = ("jsonl", "parquet")
LIST_SUFFIXES = (".txt", ".lst", ".list")
SHARD_NAME = re.compile(r"part-[0-9a-f]{8}-\d{5}\.(jsonl|parquet)")  # what _ShardWriter names them


def shards(out_dir: Path, fmt: str) -> list[Path]:
    """This engine's shards of one format under ``out_dir`` (other ``part-*`` files are not ours)."""
    found = sorted(p for p in out_dir.glob(f"part-*.{fmt}") if SHARD_NAME.fullmatch(p.name))
    return [p for p in found if fmt != "jsonl" or is_scan_jsonl(p)]


def read_input_list(path: Path) -> list[Path]:
    """The paths a list file names (one per line; blank lines and ``#`` comments skipped;
    relative paths are relative to the list file's folder)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise FakelensError(exc.strerror or str(exc), path, "cannot read the input list") from None
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            out.append(p if p.is_absolute() else path.parent / p)
    return out


def expand_inputs(paths) -> list[Path]:
    """Folders and media files as given; a ``.txt``/``.lst``/``.list`` file is read as a list."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(read_input_list(p) if p.suffix.lower() in LIST_SUFFIXES and p.is_file() else [p])
    return out


def done_in_shards(out_dir: Path, retry_errors: bool = False) -> set[str]:
    """Files (by :func:`path_key`) with a file record in any shard under ``out_dir``."""
    done: set[str] = set()
    for shard in shards(out_dir, "jsonl"):
        done |= done_files(shard, retry_errors)  # what --resume reads from a local JSONL
    parquet = shards(out_dir, "parquet")
    if parquet:
        import pyarrow.parquet as pq

        for shard in parquet:
            table = pq.read_table(shard, columns=["file", "file_bytes", "verdict"]).to_pylist()
            done |= {
                path_key(record_file(r)) for r in table if not (retry_errors and r["verdict"] == "error")
            }
    return done


class ScanActor:
    """One Ray actor: one loaded detector, ``threads`` cores, files scanned one at a time."""

    def __init__(
        self,
        model,
        options: ScanOptions,
        threads: int,
        backend: str = "auto",
        threshold=None,
        gpu: bool = False,
        cwd: str | None = None,
    ):
        os.environ["FAKELENS_THREADS"] = str(threads)  # ONNX Runtime's intra-op threads
        if cwd is not None and os.path.isdir(cwd):
            os.chdir(cwd)  # relative inputs name the driver's files, and records keep their spelling
        import cv2
        import torch

        from fakelens.models.loading import load_detector, load_torch_scorer
        from fakelens.models.scorer import set_threshold
        from fakelens.scan.scanner import Scanner

        torch.set_num_threads(threads)
        cv2.setNumThreads(1)
        if gpu:  # full-precision convolutions: the same scores (to 6 decimals) as on a CPU
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        # a GPU worker scores in PyTorch on its GPU (Ray sets CUDA_VISIBLE_DEVICES to the one it holds)
        detector = load_torch_scorer(model, device="cuda") if gpu else load_detector(model, backend=backend)
        if threshold is not None:
            set_threshold(detector, threshold)
        self.scanner = Scanner(detector, options)

    def __call__(self, batch: dict) -> dict:
        """``batch["path"]``: file names as bytes (Arrow strings must be UTF-8; file names need not
        be); returns each file's JSONL lines, as the local writer would write them."""
        lines = []
        for raw in batch["path"]:
            path = Path(os.fsdecode(bytes(raw)))
            if path.is_dir():  # a given folder without media: its error record, as the local engine writes
                result = empty_folder_record(path, self.scanner.detector)
            else:
                result = self.scanner.scan_file(path)
            lines.append(json.dumps([to_json(r) for r in result.faces] + [to_json(result.record)]))
        return {"lines": lines}


class _ShardWriter:
    """Rotating shards: ``part-<run>-<n>.jsonl`` (flushed per file) or ``.parquet`` (per shard)."""

    def __init__(self, out_dir: Path, fmt: str, rows_per_shard: int):
        self.out_dir, self.fmt, self.rows_per_shard = out_dir, fmt, rows_per_shard
        self.run = uuid.uuid4().hex[:8]
        self.index, self.rows, self._fh, self._pending = 0, 0, None, []
        self.shards: list[Path] = []

    def _next(self) -> Path:
        path = self.out_dir / f"part-{self.run}-{self.index:05d}.{self.fmt}"
        self.index += 1
        self.shards.append(path)
        return path

    def write(self, lines: list[str]) -> None:
        if self.fmt == "jsonl":
            if self._fh is None:
                self._fh = self._next().open("w", encoding="utf-8")
            self._fh.write("\n".join(lines) + "\n")
            self._fh.flush()
        else:
            self._pending.append(lines)
        self.rows += 1
        if self.rows >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._pending:
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = [parquet_row(lines) for lines in self._pending]
            path = self._next()
            tmp = path.with_name(f".{path.name}.tmp")  # a killed write leaves no half shard to trip --resume
            pq.write_table(pa.Table.from_pylist(rows, schema=parquet_schema()), tmp)
            os.replace(tmp, path)
            self._pending = []
        self.rows = 0


def parquet_schema():
    """One schema for every shard (the file record's fields, ``file_bytes``, ``face_records``): with
    a schema guessed per shard, a column that is all null in one shard cannot be read with the rest."""
    import dataclasses

    import pyarrow as pa

    from fakelens.records import FileRecord

    def arrow_type(annotation: str):
        if annotation.startswith("float"):
            return pa.float64()
        if annotation.startswith("int"):
            return pa.int64()
        return pa.string()

    fields = [pa.field(f.name, arrow_type(str(f.type))) for f in dataclasses.fields(FileRecord)]
    return pa.schema([*fields, pa.field("file_bytes", pa.string()), pa.field("face_records", pa.string())])


def parquet_row(lines: list[str]) -> dict:
    """A file record's fields as columns (``file_bytes`` always present) and its face records as
    one JSON-lines text column."""
    record = json.loads(lines[-1])
    record.setdefault("file_bytes", None)
    record["face_records"] = "\n".join(lines[:-1])
    return record


@dataclass
class CorpusSummary:
    files: int  # scanned in this run
    skipped_done: int  # already had a record (resume)
    errors: int
    seconds: float
    workers: int
    shards: list[str] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)  # one line per file that could not be read
    first_result_seconds: float | None = None  # start-up: the pool starting, models loading, a first file

    @property
    def steady_files_per_s(self) -> float | None:
        """Files per second after the first result (start-up excluded: a corpus pays it once)."""
        if self.first_result_seconds is None or self.files < 2 or self.seconds <= self.first_result_seconds:
            return None
        return (self.files - 1) / (self.seconds - self.first_result_seconds)

    def as_dict(self) -> dict:
        return asdict(self)


def scan_corpus(
    paths,
    out_dir: str | Path,
    *,
    model: str | Path | None = None,
    options: ScanOptions | None = None,
    backend: str = "auto",
    threshold: float | None = None,
    workers: int = 2,
    threads_per_worker: int = 1,
    gpus_per_worker: float = 0.0,
    fmt: str = "jsonl",
    rows_per_shard: int = 1000,
    resume: bool = False,
    retry_errors: bool = False,
    progress: bool = True,
    console: Console | None = None,
) -> CorpusSummary:
    """Scan ``paths`` (folders, media files, list files) with ``workers`` Ray actors into shards
    under ``out_dir``. Starts a local Ray (``ray.init``) unless one is already initialised (a
    cluster: ``ray.init(address=...)`` first). A bad file is an error record; a model failure
    stops the run with the shards written so far kept."""
    if fmt not in FORMATS:
        raise FakelensError(f"unknown format {fmt!r}; choose {' or '.join(FORMATS)}")
    if workers < 1 or threads_per_worker < 1 or rows_per_shard < 1:
        raise FakelensError("workers, threads per worker and rows per shard must be at least 1")
    try:
        import ray
    except ImportError:
        raise FakelensError("--engine ray needs Ray: pip install 'fakelens[ray]'") from None
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FakelensError("with --engine ray, --out is a folder of shards", out_dir, "refusing")
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = collect_inputs(expand_inputs(paths))
    files = [*inputs.files, *inputs.empty]  # a given folder without media gets its error record
    from fakelens.models.detector import resolve_checkpoint

    resolve_checkpoint(model)  # a bad --model is one line here, not a Ray error from every worker
    resume = resume or retry_errors
    if not resume and (shards(out_dir, "jsonl") or shards(out_dir, "parquet")):
        raise FakelensError(
            "holds shards of an earlier scan: --resume to continue it, or choose another --out",
            out_dir,
            "refusing",
        )
    if resume:  # a torn last line and a killed file's face records go (it is scanned again)
        for shard in shards(out_dir, "jsonl"):
            repair(shard, drop_errors=retry_errors)
    done = done_in_shards(out_dir, retry_errors) if resume else set()
    todo = [f for f in files if path_key(f) not in done]
    console = console or Console(stderr=True)
    t0 = time.time()
    writer = _ShardWriter(out_dir, fmt, rows_per_shard)
    messages: list[str] = []
    first = None
    if todo:
        if not ray.is_initialized():
            ray.init(
                num_cpus=workers * threads_per_worker,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        if gpus_per_worker > 0:
            have = ray.cluster_resources().get("GPU", 0)
            if have < gpus_per_worker * workers:  # Ray would wait for them for ever
                raise FakelensError(
                    f"{workers} workers x {gpus_per_worker:g} GPU(s) asked for, the Ray cluster has {have:g}"
                )
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        ctx.execution_options.preserve_order = False
        blocks = min(len(todo), max(4 * workers, len(todo) // 20))  # ~20 files a block on big corpora
        ds = ray.data.from_items([{"path": os.fsencode(f)} for f in todo], override_num_blocks=blocks)
        ds = ds.map_batches(
            ScanActor,
            fn_constructor_kwargs={
                "model": None if model is None else str(model),
                "options": options or ScanOptions(),
                "threads": threads_per_worker,
                "backend": backend,
                "threshold": threshold,
                "gpu": gpus_per_worker > 0,
                "cwd": os.getcwd(),
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads_per_worker,
            num_gpus=gpus_per_worker or None,
        )
        try:
            for row in ds.iter_rows():
                first = first if first is not None else time.time() - t0
                lines = json.loads(row["lines"])
                record = json.loads(lines[-1])
                if record["verdict"] == "error":
                    messages.append(record.get("error") or f"cannot read '{record['file']}'")
                writer.write(lines)
        finally:
            writer.flush()
    summary = CorpusSummary(
        len(todo),
        len(files) - len(todo),
        len(messages),
        round(time.time() - t0, 2),
        workers,
        list(map(str, writer.shards)),
        messages,
        None if first is None else round(first, 2),
    )
    console.print(
        f"{summary.files} files scanned by {workers} Ray workers in {summary.seconds:.1f} s "
        f"({summary.skipped_done} already done, {summary.errors} could not be read); shards in {out_dir}"
    )
    return summary
