"""Decide whether a path is an image or a video, and expand folders into media files.

The first bytes decide (an MP4 named ``.jpg`` is a video, a ``.jfif`` or ``.ts`` is found by its
content); the extension only where the content is not recognised. Only regular files are opened:
a FIFO or a device would block the read forever.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from fakelens.errors import MediaError

IMAGE_EXTENSIONS = {
    *(".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".gif"),
    *(".avif", ".heic", ".heif"),
}
VIDEO_EXTENSIONS = {
    *(".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"),
    *(".ts", ".m2ts", ".mts", ".3gp"),
}
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

MediaKind = Literal["image", "video"]

# ISO-BMFF brands that hold still images (HEIF/AVIF), not movies.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def media_kind(path: str | os.PathLike[str]) -> MediaKind:
    """``"image"`` or ``"video"``, by magic bytes, else by extension; MediaError otherwise."""
    p = Path(path)
    head = read_head(p)
    kind = sniff_kind(head)
    if kind is not None:
        return kind
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    what = f"'{suffix}'" if suffix else "(no extension, unknown content)"
    raise MediaError(f"unsupported file type {what}", path)


def read_head(p: Path, size: int = 512) -> bytes:
    """The first bytes of a regular file; MediaError (one line) for anything else."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise MediaError("no such file", p) from None
    except OSError as err:  # a symlink loop, a path through a file, no permission
        raise MediaError(err.strerror or "cannot open file", p) from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError("is a directory", p)
    if not stat.S_ISREG(st.st_mode):
        raise MediaError("not a regular file (a FIFO, socket or device): not opened", p)
    try:
        with open(p, "rb") as fp:
            return fp.read(size)
    except OSError as err:
        raise MediaError(err.strerror or "cannot open file", p) from None


def sniff_kind(head: bytes, distinctive: bool = False) -> MediaKind | None:
    """Classify the first bytes of a file by well-known signatures; None when unknown.

    ``distinctive``: only signatures a text or audio file cannot share by chance (for files whose
    extension says nothing): not BMP's "BM" or PNM's "P1".."P6", not old QuickTime's bare atom names
    or MPEG-TS's "G" sync bytes, and an audio MP4 (M4A/M4B/M4P brand) is no video."""
    if distinctive and _weak_signature(head):
        return None
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")):
        return "image"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # old QuickTime without ftyp
        return "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return "video"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return "video"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):  # MPEG program / elementary
        return "video"
    if head.startswith(b"FLV\x01"):
        return "video"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF: WMV
        return "video"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:  # MPEG-TS
        return "video"
    return None


def iter_media(
    paths: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    skipped: list[tuple[Path, str]] | None = None,
) -> Iterator[Path]:
    """Expand folders into their media files (sorted, hidden entries skipped); pass files through.

    A given file, or a path that does not exist, is yielded unchanged so the caller reports the
    error for it instead of it silently vanishing. Each file is yielded once (by resolved path).
    In a folder, a file is media by its content or, when that is not recognised, its extension;
    one that cannot be read at all (a symlink loop) is yielded for its error record. What is left
    out is appended to ``skipped`` as ``(path, reason)``.
    """
    seen: set[Path] = set()
    skipped = [] if skipped is None else skipped
    for given in paths:
        p = Path(given)
        candidates = _walk(p, recursive, skipped) if p.is_dir() else [p]
        for c in candidates:
            key = _resolve(c)
            if key in seen:
                continue
            seen.add(key)
            yield c


HIDDEN = "hidden (its name starts with '.')"


def _walk(root: Path, recursive: bool, skipped: list[tuple[Path, str]]) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        skipped += [(base / d, f"{HIDDEN}: folder not searched") for d in dirnames if d.startswith(".")]
        links = [d for d in dirnames if not d.startswith(".") and (base / d).is_symlink()]
        skipped += [
            (base / d, "a symlinked folder: not followed (give it on the command line)") for d in links
        ]
        dirnames[:] = [] if not recursive else sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = base / name
            reason = HIDDEN if name.startswith(".") else _not_media(path)
            if reason is None:
                found.append(path)
            else:
                skipped.append((path, reason))
    skipped.sort(key=lambda item: str(item[0]))
    return sorted(found, key=lambda q: q.relative_to(root).parts)


def _weak_signature(head: bytes) -> bool:
    return (
        head.startswith(b"BM")
        or head[:1] in (b"P", b"\x47")
        or head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip")
        or (head[4:8] == b"ftyp" and head[8:10] == b"M4" and head[10:11] in b"ABP")
    )


def _not_media(path: Path) -> str | None:
    """Why a file found in a folder is not scanned, or None to scan it."""
    try:
        head = read_head(path, 512)
    except MediaError as err:
        if err.reason.startswith("not a regular file"):
            return err.reason
        return None  # unreadable (a symlink loop, no permission): its error record says why
    if path.suffix.lower() in MEDIA_EXTENSIONS:
        return None
    if sniff_kind(head, distinctive=True) is not None:  # no media extension: the bytes must be sure
        return None
    return "not an image or video (content and extension unknown)"


def _resolve(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return p.absolute()
