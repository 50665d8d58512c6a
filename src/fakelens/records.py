"""The records that flow out of a scan; the CLI, the JSONL file and the HTML report all read these.

One ``FaceRecord`` per scored face and one ``FileRecord`` per input file, serialised by ``to_json``.
"""

from __future__ import annotations

import json
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
    kind: str  # "image" | "video" | "unknown"
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
    type: str = field(default="file", init=False)


def to_json(record: FaceRecord | FileRecord) -> str:
    """One JSON line (no trailing newline); floats rounded so files stay readable and diffable."""
    data = asdict(record)
    for key in ("score", "time_s", "seconds"):
        if isinstance(data.get(key), float):
            data[key] = round(data[key], 6 if key == "score" else 3)
    return json.dumps(data)  # ASCII: file names that are not valid UTF-8 still serialise


def from_json(line: str) -> FaceRecord | FileRecord:
    data = json.loads(line)
    kind = data.pop("type", None)
    if kind == "face":
        data["box"] = tuple(data["box"])
        return FaceRecord(**data)
    if kind == "file":
        return FileRecord(**data)
    raise ValueError(f"unknown record type {kind!r}")
