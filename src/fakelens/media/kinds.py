"""Decide whether a path is an image or a video, and expand folders into media files.

The extension decides; for an unknown one the first bytes are sniffed, so a ``clip.bin`` or a
file saved without an extension still routes to the right decoder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from fakelens.errors import MediaError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".gif"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

MediaKind = Literal["image", "video"]

# ISO-BMFF brands that hold still images (HEIF/AVIF), not movies.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def media_kind(path: str | os.PathLike[str]) -> MediaKind:
    """``"image"`` or ``"video"``, by extension, else by magic bytes; MediaError otherwise."""
    p = Path(path)
    if not p.exists():
        raise MediaError("no such file", path)
    if p.is_dir():
        raise MediaError("is a directory", path)
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    try:
        with open(p, "rb") as fp:
            head = fp.read(512)
    except OSError as err:
        raise MediaError(err.strerror or "cannot open file", path) from None
    kind = sniff_kind(head)
    if kind is None:
        what = f"'{suffix}'" if suffix else "(no extension, unknown content)"
        raise MediaError(f"unsupported file type {what}", path)
    return kind


def sniff_kind(head: bytes) -> MediaKind | None:
    """Classify the first bytes of a file by well-known signatures; None when unknown."""
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


def iter_media(paths: Iterable[str | os.PathLike[str]], recursive: bool = True) -> Iterator[Path]:
    """Expand folders into their media files (sorted, hidden entries skipped); pass files through.

    A given file, or a path that does not exist, is yielded unchanged so the caller reports the
    error for it instead of it silently vanishing. Each file is yielded once (by resolved path).
    """
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        candidates = _walk(p, recursive) if p.is_dir() else [p]
        for c in candidates:
            key = _resolve(c)
            if key in seen:
                continue
            seen.add(key)
            yield c


def _walk(root: Path, recursive: bool) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [] if not recursive else [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS:
                found.append(base / name)
    return sorted(found, key=lambda q: q.relative_to(root).parts)


def _resolve(p: Path) -> Path:
    try:
        return p.resolve()
    except OSError:  # e.g. a symlink loop: fall back to the literal path
        return p.absolute()
