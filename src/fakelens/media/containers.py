"""Open a video file with PyAV and choose the stream to read, with reasons a person can act on
when it cannot be opened (a cut recording, a damaged index, an audio file)."""

from __future__ import annotations

import os
from pathlib import Path

import av

from fakelens.errors import MediaError

AV_ERRORS = (av.FFmpegError, OSError)


def open_container(path: str | os.PathLike[str]) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise MediaError("no such file", path)
    if p.is_dir():
        raise MediaError("is a directory", path)
    if p.stat().st_size == 0:
        raise MediaError("empty file", path)
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.InvalidDataError:
        reason = _mp4_problem(p) or "not a recognised image or video format"
        raise MediaError(reason, path) from None
    except AV_ERRORS as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise MediaError(f"cannot open video ({reason})", path) from None


def _mp4_problem(p: Path) -> str | None:
    """Why an MP4/MOV (it starts with an ``ftyp`` box) did not open, from its top-level boxes.

    FFmpeg says only "invalid data" both for a file that is no video and for a cut-off recording or
    download (the index, the ``moov`` box, usually comes last), so the record would call a truncated
    phone clip "not a recognised format"; walking the box headers tells the two apart.
    """
    size = p.stat().st_size
    with p.open("rb") as fh:
        if fh.read(8)[4:8] != b"ftyp":
            return None
        pos, kinds = 0, set()
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(16)
            box, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if box == 1 and len(head) == 16:  # 64-bit size
                box = int.from_bytes(head[8:16], "big")
            elif box == 0:  # runs to the end of the file
                box = size - pos
            if box < 8 or not all(32 <= c < 127 for c in kind):  # box types are 4 ASCII letters
                return f"damaged MP4/MOV (unreadable data at byte {pos})"
            if pos + box > size:
                return "truncated MP4/MOV: the file ends mid-way (an unfinished recording or download?)"
            kinds.add(kind)
            pos += box
    if b"moov" not in kinds:
        return "damaged MP4/MOV: no 'moov' index box (an unfinished recording?)"
    return "damaged MP4/MOV (FFmpeg cannot parse it)"


def video_stream(container: av.container.InputContainer, path: str | os.PathLike[str]) -> av.VideoStream:
    """The stream a person would call the video: not cover art or thumbnails, then the largest
    picture, then the container's default, then the first."""
    streams = container.streams.video
    if not streams:
        raise MediaError("no video stream (is it an audio file?)", path)
    still = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails

    def rank(s: av.VideoStream) -> tuple:
        ctx = s.codec_context
        return (not (s.disposition & still), (ctx.width or 0) * (ctx.height or 0), bool(s.disposition & 1))

    return max(streams, key=rank)  # max keeps the first of equals


def stream_note(path: str | os.PathLike[str]) -> str | None:
    """Which video stream is read when a file has several (else None), for the file's record."""
    with open_container(path) as container:
        streams = container.streams.video
        if len(streams) < 2:
            return None
        chosen = video_stream(container, path)
        ctx = chosen.codec_context
        return (
            f"{len(streams)} video streams: read stream {chosen.index} ({ctx.width}x{ctx.height}; "
            "cover art and thumbnails skipped, then the largest picture)"
        )
