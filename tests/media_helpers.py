"""Small media files the tests write (importable from any test: ``pythonpath = ["tests"]``)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video(
    path: Path,
    frames: list[np.ndarray],
    rate: int = 25,
    *,
    codec: str = "libx264",
    pts_ms: list[int] | None = None,
    rotation: int = 0,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """A clip of RGB frames (one encoder thread, so the bytes do not depend on the cores).

    ``codec`` names a PyAV encoder (libx264, libx265, libvpx-vp9, libsvtav1, mpeg4); ``pts_ms``
    gives each frame its own timestamp in milliseconds (a variable frame rate); ``rotation``
    writes a display matrix (degrees counter-clockwise, as a phone does) into the container;
    ``options`` are the encoder's, ``container_options`` the muxer's (``{"movflags": "faststart"}``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=container_options or {}) as out:
        opts = {"threads": "1"} if codec in ("libx264", "libvpx-vp9", "mpeg4") else {}
        if codec == "libx265":
            opts["x265-params"] = "pools=1:frame-threads=1:log-level=error"
        stream = out.add_stream(codec, rate=rate, options={**opts, **(options or {})})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_audio_only(path: Path) -> Path:
    """An MP4 with one AAC stream and no video (what a voice memo looks like)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path


def write_growing_ts(path: Path, small: int, big: int, n_small: int = 10, n_big: int = 10) -> Path:
    """An H.264 MPEG-TS whose header (first frames) says ``small`` px square and whose frames from
    ``n_small`` on are ``big`` px: two segments, timestamps continuing (how a size bomb grows)."""
    import io

    def segment(size: int, start: int, n: int) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, "w", format="mpegts") as c:
            s = c.add_stream("libx264", rate=10, options={"preset": "ultrafast", "threads": "1"})
            s.width = s.height = size
            s.pix_fmt = "yuv420p"
            s.codec_context.time_base = Fraction(1, 10)
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), 20 * i, np.uint8), format="rgb24")
                frame.pts, frame.time_base = start + i, Fraction(1, 10)
                for packet in s.encode(frame):
                    c.mux(packet)
            for packet in s.encode():
                c.mux(packet)
        return buf.getvalue()

    Path(path).write_bytes(segment(small, 0, n_small) + segment(big, n_small, n_big))
    return Path(path)


def write_two_streams(path: Path, first: np.ndarray, second: np.ndarray, n: int = 5) -> Path:
    """A Matroska file with two video streams of ``n`` frames each: ``first`` and ``second``."""
    with av.open(str(path), "w") as c:
        streams = [c.add_stream("libx264", rate=10, options={"threads": "1"}) for _ in range(2)]
        for s, image in zip(streams, (first, second), strict=True):
            s.height, s.width = image.shape[:2]
            s.pix_fmt = "yuv420p"
        for _ in range(n):
            for s, image in zip(streams, (first, second), strict=True):
                for packet in s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    c.mux(packet)
        for s in streams:
            for packet in s.encode():
                c.mux(packet)
    return Path(path)
