"""The records that flow out of a scan; the CLI, the JSONL file and the HTML report all read these.

One ``FaceRecord`` per scored face and one ``FileRecord`` per input file, serialised by ``to_json``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Literal

Verdict = Literal["real", "fake", "no_face", "error"]


@dataclass(frozen=True)
class FaceRecord:
    file: str
    frame: int  # frame index in the video (0 for an image)
    time_s: float  # seconds from the start of the video (0.0 for an image)
    face: int  # index of the face within its frame, largest first
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the original frame's pixels
    score: float  # p(fake)
    track: int = -1  # the face track it belongs to (fakelens.rules.link_tracks); -1 before linking
    type: str = field(default="face", init=False)


@dataclass(frozen=True)
class FileRecord:
    file: str
    kind: str  # "image" | "video" | "animation" (animated GIF/WebP/PNG, multi-page TIFF) | "unknown"
    verdict: Verdict
    score: float | None  # p(fake) of the file by the documented rule; None without faces
    faces: int  # faces scored
    frames: int  # frames examined (1 for an image)
    faceless_frames: int  # frames where no face was found: counted, never silently dropped
    error: str | None = None
    model: str = ""
    threshold: float = 0.5
    rule: str = ""  # how the file score came from the face scores
    seconds: float = 0.0
    tracks: int = 0  # face tracks found (an image: its faces)
    track: int | None = None  # the track whose score is the file's (None without faces)
    track_frames: int = (
        0  # examined frames in which that track has a face (the rest are counted, not dropped)
    )
    note: str | None = None  # why a readable file has no verdict (no_face), in words
    faces_not_examined: int = 0  # faces beyond the scan's max_faces per frame (smallest first)
    image_score: float | None = None  # --whole-image: p(fake) of the whole picture (one-face images)
    decided_by: str | None = None  # --whole-image: "face" or "whole image", whichever gave the score
    type: str = field(default="file", init=False)


def _raw_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # how os.fsdecode kept undecodable bytes
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _is_clean(text: str) -> bool:
    return text.isascii() or not any("\ud800" <= c <= "\udfff" for c in text)


def to_json(record: FaceRecord | FileRecord) -> str:
    """One JSON line (no trailing newline); floats rounded so files stay readable and diffable.

    A file name that is not valid UTF-8 (lone surrogates from the file system) would make JSON
    that strict readers reject: ``file`` shows its bad bytes as ``\\xNN`` and ``file_bytes`` holds
    the exact name (base64), which :func:`from_json` and ``--resume`` read back."""
    data = asdict(record)
    for key in ("score", "time_s", "seconds", "image_score"):
        if isinstance(data.get(key), float):
            data[key] = round(data[key], 6 if key in ("score", "image_score") else 3)
    for key, value in list(data.items()):
        if isinstance(value, str) and not _is_clean(value):
            if key == "file":
                data["file_bytes"] = base64.b64encode(_raw_bytes(value)).decode("ascii")
            data[key] = _raw_bytes(value).decode("utf-8", "backslashreplace")
    return json.dumps(data)


def record_file(data: dict) -> str:
    """The exact file name of a record read from JSON (``file_bytes`` when the name was not UTF-8)."""
    raw = data.get("file_bytes")
    return os.fsdecode(base64.b64decode(raw)) if raw else data["file"]


def from_json(line: str) -> FaceRecord | FileRecord:
    data = json.loads(line)
    if "file_bytes" in data:
        data["file"] = record_file(data)
        del data["file_bytes"]
    kind = data.pop("type", None)
    if kind == "face":
        data["box"] = tuple(data["box"])
        return FaceRecord(**data)
    if kind == "file":
        return FileRecord(**data)
    raise ValueError(f"unknown record type {kind!r}")
