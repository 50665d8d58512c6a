"""Receive one uploaded file from a multipart body, streaming it to a server-named temp file.

The size limit is enforced while bytes arrive (a huge declared Content-Length is refused before
reading anything), and the client's file name is kept only as a label: it never becomes a path.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from fakelens.serve.schemas import ApiError
from fakelens.serve.settings import ServeSettings

FIELD = "file"
HEAD_BYTES = 512  # what content sniffing looks at
_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and small form fields
MAX_PART_HEADERS = 16 * 1024  # bytes of headers per part: they are kept in memory


@dataclass
class Upload:
    path: Path  # inside a folder made for this upload alone
    name: str  # the client's file name, for display only
    size: int
    head: bytes  # first bytes, for content sniffing


OWNER = "owner"  # in each upload folder: "<pid> <process start time> <host> <pid namespace>" of its server


def _process_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc), or None where it is not running:
    with the pid it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the name before ")" may hold spaces


def make_upload_dir(settings: ServeSettings) -> Path:
    if settings.tmp_dir is not None:
        Path(settings.tmp_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="fakelens-serve-", dir=settings.tmp_dir))
    (folder / OWNER).write_text(_owner_line(os.getpid()) + "\n")
    return folder


def _owner_line(pid: int) -> str:
    return f"{pid} {_process_start(pid)} {_where()}"


def _where() -> str:
    """This machine and pid namespace: a pid means nothing outside them (containers sharing a tmp)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "unknown"
    return f"{socket.gethostname()}|{namespace}".replace(" ", "_")


def _owner_gone(folder: Path) -> bool | None:
    """True when the server that made the folder is no longer running, None when unknown."""
    try:
        pid_text, start, where = (folder / OWNER).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if where != _where() or start == "None":  # another machine or container, or no /proc: cannot tell
        return None
    return _process_start(pid) != start


def remove_upload_dir(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale_upload_dirs(settings: ServeSettings, now: float | None = None) -> int:
    """Remove upload folders a killed server left behind; returns how many.

    A folder names the server process that made it (``owner``: pid, start time, host and pid
    namespace): when that process is gone on this host and namespace, the folder goes at once; one
    made in another container or on another host sharing the folder falls to the age rule. A
    folder without an owner (an older server's) lives at most one upload, a wait behind a full
    queue and one scan; one untouched for twice that (and at least an hour) belongs to no live
    server with these settings, even when several servers share the temp dir.
    """
    root = Path(settings.tmp_dir) if settings.tmp_dir is not None else Path(tempfile.gettempdir())
    lifetime = settings.request_timeout_s + (settings.max_queue + 1) * settings.job_timeout_s
    max_age = max(3600.0, 2 * lifetime)
    now = time.time() if now is None else now
    removed = 0
    for folder in root.glob("fakelens-serve-*"):
        try:
            gone = _owner_gone(folder) if folder.is_dir() else False
            stale = gone if gone is not None else folder.is_dir() and now - folder.stat().st_mtime > max_age
        except OSError:  # removed meanwhile by another server
            continue
        if stale and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed += not folder.exists()  # another user's folder may not be ours to remove
    return removed


def display_name(raw: bytes | None) -> str:
    """A label from the client's file name: last path component, printable, at most 200 chars."""
    if not raw:
        return "upload"
    text = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    return text[:200] or "upload"


class _Receiver:
    """python-multipart callbacks: the part named ``file`` goes to disk, other parts are dropped."""

    def __init__(self, folder: Path, limit: int):
        self.folder, self.limit = folder, limit
        self.headers: dict[bytes, bytes] = {}
        self.field = self.value = b""
        self.header_bytes = 0
        self.fp = None
        self.writing = False
        self.upload: Upload | None = None
        self.ended = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": lambda: setattr(self, "ended", True),
        }

    def on_part_begin(self) -> None:
        self.headers, self.writing, self.header_bytes = {}, False, 0

    def _count_header(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > MAX_PART_HEADERS:
            raise ApiError(400, "malformed_multipart", f"part headers over {MAX_PART_HEADERS // 1024} KB")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.strip().lower()] = self.value.strip()
        self.field = self.value = b""

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self.headers.get(b"content-disposition"))
        if disposition != b"form-data" or params.get(b"name") != FIELD.encode():
            return
        if self.upload is not None:
            raise ApiError(400, "too_many_files", f"send one file per request in the field '{FIELD}'")
        self.fp = open(self.folder / "upload", "wb")  # noqa: SIM115 - closed in on_part_end/close
        self.upload = Upload(self.folder / "upload", display_name(params.get(b"filename")), 0, b"")
        self.writing = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.writing:
            return
        chunk = data[start:end]
        up = self.upload
        up.size += len(chunk)
        if up.size > self.limit:
            raise ApiError(413, "upload_too_large", f"the file is larger than the limit of {_mb(self.limit)}")
        if len(up.head) < HEAD_BYTES:
            up.head += chunk[: HEAD_BYTES - len(up.head)]
        self.fp.write(chunk)

    def on_part_end(self) -> None:
        self.writing = False
        self.close()

    def close(self) -> None:
        if self.fp is not None:
            self.fp.close()
            self.fp = None


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


def check_declared_size(request: Request, limit: int) -> None:
    """Refuse before reading a byte when the declared body cannot fit the limit."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        size = int(declared)
    except ValueError:
        raise ApiError(
            400, "bad_content_length", f"Content-Length {declared[:40]!r} is not a number"
        ) from None
    if size > limit + _OVERHEAD:
        raise ApiError(
            413, "upload_too_large", f"declared body of {size} bytes is over the limit of {_mb(limit)}"
        )


class _TooSlow(Exception):
    pass


async def _paced(chunks: AsyncIterator[bytes], settings: ServeSettings) -> AsyncIterator[bytes]:
    """The body's chunks, each due before the average rate since the start would fall under
    ``min_upload_kbps`` (never before ``upload_grace_s``): a stalled or trickling body ends in
    seconds instead of holding an upload slot until the request timeout."""
    rate = settings.min_upload_kbps * 1024
    start, received = time.monotonic(), 0
    iterator = aiter(chunks)
    while True:
        due = start + max(settings.upload_grace_s, (received + 1) / rate)
        try:
            chunk = await asyncio.wait_for(anext(iterator), timeout=max(0.0, due - time.monotonic()))
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _TooSlow(
                f"the upload arrived slower than {settings.min_upload_kbps:g} KB/s "
                f"({received} bytes in {time.monotonic() - start:.1f} s)"
            ) from None
        received += len(chunk)
        yield chunk


async def receive_upload(request: Request, settings: ServeSettings, folder: Path) -> Upload:
    """Stream the ``file`` field of a multipart body into ``folder``; ApiError for every refusal."""
    limit = settings.max_upload_bytes
    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data":
        raise ApiError(
            415, "not_multipart", f"send the file as multipart/form-data in a field named '{FIELD}'"
        )
    if not params.get(b"boundary"):
        raise ApiError(400, "malformed_multipart", "the multipart Content-Type has no boundary")
    check_declared_size(request, limit)
    receiver = _Receiver(folder, limit)
    total = 0
    try:
        parser = MultipartParser(params[b"boundary"], receiver.callbacks())
        async with asyncio.timeout(settings.request_timeout_s):
            async for chunk in _paced(request.stream(), settings):
                total += len(chunk)
                if total > limit + _OVERHEAD:
                    raise ApiError(
                        413, "upload_too_large", f"the body is larger than the limit of {_mb(limit)}"
                    )
                parser.write(chunk)
        parser.finalize()
    except TimeoutError:
        raise ApiError(
            408, "upload_timeout", f"the upload took longer than {settings.request_timeout_s:g} s"
        ) from None
    except _TooSlow as err:
        raise ApiError(408, "upload_too_slow", str(err)) from None
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client closed the connection mid-upload") from None
    except (MultipartParseError, ValueError) as err:
        raise ApiError(400, "malformed_multipart", f"malformed multipart body: {err}") from None
    finally:
        receiver.close()
    if not receiver.ended:
        raise ApiError(
            400, "malformed_multipart", "the body ended before the closing boundary (truncated upload?)"
        )
    if receiver.upload is None:
        raise ApiError(400, "missing_file", f"no field named '{FIELD}' in the multipart body")
    if receiver.upload.size == 0:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    return receiver.upload
