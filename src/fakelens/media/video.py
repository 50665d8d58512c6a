"""Probe and sample videos with PyAV, by real timestamps, tolerating broken files.

Timestamps come from a demux-only pass (cheap: no decoding), so variable-frame-rate clips are
sampled evenly in *time*, and frame indices are positions in presentation order. A second pass
decodes and converts to RGB only the chosen frames. Truncated or corrupt tails end the video
early instead of failing it: whatever decoded before the damage is still returned.
"""

from __future__ import annotations

import bisect
import os
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np

from fakelens.errors import MediaError
from fakelens.media.containers import AV_ERRORS as _AV_ERRORS
from fakelens.media.containers import open_container, video_stream
from fakelens.media.image import DEFAULT_MAX_PIXELS

_MAX_BAD_PACKETS = 25  # consecutive undecodable packets before we give up on the rest


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``index`` in presentation order, ``time_s`` from the first frame."""

    index: int
    time_s: float
    image: np.ndarray  # HxWx3 uint8 RGB


@dataclass(frozen=True)
class VideoInfo:
    """What a demux-only pass learns; ``width``/``height`` are coded sizes (before rotation)."""

    frames: int
    duration_s: float
    fps: float
    width: int
    height: int
    truncated: bool


@dataclass(frozen=True)
class _Scan:
    pts: list[int]  # sorted presentation timestamps, one per frame
    time_base: Fraction
    frame_dur: int  # typical frame duration in time_base units (0 if unknown)
    info: VideoInfo
    keyframes: list[int]  # sorted pts of keyframes (empty when the stream has no pts)
    max_pixels: int = DEFAULT_MAX_PIXELS  # per decoded frame: a stream may grow mid-way


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Count frames and measure duration from packet timestamps, without decoding."""
    return _scan(path).info


def sample_frames(
    path: str | os.PathLike[str],
    num_frames: int | None = 16,
    every: int | None = None,
    max_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Frame]:
    """Yield ``num_frames`` frames evenly spaced in time, or every ``every``-th frame.

    ``every`` takes precedence when given (``num_frames`` keeps its default otherwise). Frames
    come in increasing index order; a video with fewer frames than asked yields all of them.
    The file is probed now (so a missing or non-video file raises here); decoding is lazy.
    ``max_side`` downscales frames whose longer side exceeds it, keeping the aspect ratio.
    A frame with more than ``max_pixels`` pixels (the header's size or any decoded frame's: a
    stream can change size mid-way) ends the video with a ``MediaError``.
    """
    if every is not None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
    elif num_frames is None:
        raise ValueError("give num_frames or every")
    elif num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    scan = replace(_scan(path), max_pixels=max_pixels)
    _check_pixels(scan.info.width, scan.info.height, max_pixels, "frames", path)
    n = len(scan.pts)
    if every is not None:
        wanted = list(range(0, n, every))
    else:
        assert num_frames is not None
        wanted = _uniform_indices(scan.pts, scan.frame_dur, num_frames)
    return _decode_selected(path, scan, wanted, max_side)


def _uniform_indices(pts: Sequence[int], frame_dur: int, count: int) -> list[int]:
    """Frames nearest to t_i = start + (i + 0.5) * duration / count; exact maths, ties go earlier."""
    if len(pts) <= count:
        return list(range(len(pts)))
    duration = pts[-1] - pts[0] + frame_dur
    chosen: list[int] = []
    for i in range(count):
        target = pts[0] + Fraction((2 * i + 1) * duration, 2 * count)
        j = bisect.bisect_left(pts, target)
        if j == len(pts) or (j > 0 and target - pts[j - 1] <= pts[j] - target):
            j -= 1
        if not chosen or chosen[-1] != j:
            chosen.append(j)
    return chosen


def _scan(path: str | os.PathLike[str]) -> _Scan:
    with open_container(path) as container:
        stream = video_stream(container, path)
        pts: list[int] = []
        dts: list[int] = []
        keys: list[int] = []
        truncated = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:  # flush packets / edit-list cuts
                    continue
                if packet.pts is not None:
                    pts.append(packet.pts)
                    if packet.is_keyframe:
                        keys.append(packet.pts)
                elif packet.dts is not None:
                    dts.append(packet.dts)
        except _AV_ERRORS:
            truncated = True
        stamps = sorted(set(pts)) if pts else sorted(set(dts))  # raw streams may carry dts only
        if not stamps:
            raise MediaError("video stream has no readable frames (corrupt or empty?)", path)
        tb = stream.time_base or Fraction(1, 1000)
        diffs = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        if diffs:
            frame_dur = int(statistics.median(diffs))
        elif stream.average_rate:
            frame_dur = int(round(1 / (stream.average_rate * tb)))
        else:
            frame_dur = 0
        duration_s = float((stamps[-1] - stamps[0] + frame_dur) * tb)
        n = len(stamps)
        fps = n / duration_s if duration_s > 0 else float(stream.average_rate or 0)
        truncated = truncated or _looks_cut(container, stream, n, duration_s, float(frame_dur * tb))
        info = VideoInfo(n, duration_s, fps, stream.width, stream.height, truncated)
        return _Scan(stamps, tb, frame_dur, info, sorted(keys) if pts else [])


def _looks_cut(
    container: av.container.InputContainer, stream: av.VideoStream, n: int, duration_s: float, frame_s: float
) -> bool:
    """A demuxer often hits a cut file as a plain EOF: compare with what the header promised."""
    if stream.frames and n < stream.frames:
        return True
    expected = None
    if stream.duration and stream.time_base:
        expected = float(stream.duration * stream.time_base)
    elif container.duration and len(container.streams) == 1:  # other streams may run longer
        expected = container.duration / av.time_base
    return expected is not None and expected - duration_s > max(2 * frame_s, 0.05 * expected)


# Seek only when it can save real work: long videos (decoding every frame of an hour at 1080p takes
# minutes) whose wanted frames lie far apart. Short clips decode sequentially, the simplest path.
SEEK_MIN_FRAMES = 900


def _should_seek(scan: _Scan, wanted: list[int]) -> bool:
    return len(scan.pts) >= SEEK_MIN_FRAMES and len(scan.keyframes) >= 2 and len(wanted) < len(scan.pts) // 4


def _decode_selected(
    path: str | os.PathLike[str], scan: _Scan, wanted: list[int], max_side: int | None
) -> Iterator[Frame]:
    if not wanted:
        return
    fallback_dt = 1.0 / scan.info.fps if scan.info.fps > 0 else 0.0
    strategies = [_seeking, _sequential] if _should_seek(scan, wanted) else [_sequential]
    yielded = 0
    for strategy in strategies:  # a file whose seeking gives nothing is decoded sequentially
        with open_container(path) as container:
            stream = video_stream(container, path)
            stream.thread_type = "AUTO"
            for index, frame in strategy(container, stream, scan, wanted):
                if frame.pts is not None:
                    time_s = float((frame.pts - scan.pts[0]) * scan.time_base)
                else:
                    time_s = index * fallback_dt
                yield Frame(index, time_s, _to_rgb(frame, max_side))
                yielded += 1
        if yielded:
            return
    if scan.info.truncated:  # say so: "corrupt" would hide that the file was merely cut short
        raise MediaError("truncated video: no frame could be decoded", path)
    raise MediaError("could not decode any frame (corrupt video data)", path)


def _check_pixels(width: int, height: int, limit: int, what: str, path) -> None:
    if width * height > limit:
        raise MediaError(
            f"{what} have {width}x{height} = {width * height} pixels, more than the limit of {limit}", path
        )


def _indexed(container, stream, scan: _Scan) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded frames with their presentation index (looked up by pts, else counted); every one
    is checked against the pixel limit, wanted or not."""
    index_of = {p: i for i, p in enumerate(scan.pts)}
    next_index = 0
    decoded = _decode_all(container, stream)
    try:
        for frame in decoded:
            if frame.width * frame.height > scan.max_pixels:
                _check_pixels(
                    frame.width,
                    frame.height,
                    scan.max_pixels,
                    f"frames from {next_index} on (the stream changes size)",
                    container.name,
                )
            index = index_of.get(frame.pts, next_index) if frame.pts is not None else next_index
            next_index = index + 1
            yield index, frame
    finally:
        decoded.close()


def _sequential(container, stream, scan: _Scan, wanted: list[int]) -> Iterator[tuple[int, av.VideoFrame]]:
    todo, last_wanted = set(wanted), max(wanted)
    for index, frame in _indexed(container, stream, scan):
        if index in todo:
            todo.discard(index)
            yield index, frame
            if not todo:
                return
        elif index > last_wanted:
            return


def _seeking(container, stream, scan: _Scan, wanted: list[int]) -> Iterator[tuple[int, av.VideoFrame]]:
    """Jump to the keyframe before each wanted frame when it lies ahead of the decoder, so only
    the frames between that keyframe and the wanted one are decoded."""
    pos, frames = -1, None  # index of the last decoded frame; current decoding iterator
    for w in sorted(wanted):
        target = scan.pts[w]
        key = scan.keyframes[max(bisect.bisect_right(scan.keyframes, target) - 1, 0)]
        key_index = bisect.bisect_left(scan.pts, key)
        if frames is None or key_index > pos + 1:
            try:
                container.seek(key, stream=stream, backward=True, any_frame=False)
            except _AV_ERRORS:
                return
            frames = _indexed(container, stream, scan)
        for index, frame in frames:
            pos = index
            if index == w:
                yield index, frame
                break
            if index > w:  # the wanted frame was not decodable: move on
                break


def _decode_all(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order; stops quietly at a corrupt or missing tail."""
    packets = container.demux(stream)
    bad = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return  # demux ends with empty packets that already flushed the decoder
        except _AV_ERRORS:
            break
        try:
            frames = packet.decode()
        except _AV_ERRORS:  # a damaged packet (e.g. the partial last one): skip it
            bad += 1
            if bad >= _MAX_BAD_PACKETS:
                break
            continue
        bad = 0
        yield from frames
    try:  # demuxing failed: flush what the decoder still holds
        frames = stream.codec_context.decode(None)
    except _AV_ERRORS:
        return
    yield from frames


_REFORMATTER = None


def _to_rgb(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    """Convert one frame to RGB, downscaling in swscale (faster than resizing after) and rotating.

    The frame's own colour range is passed on: PyAV otherwise assumes limited range, which would
    stretch the contrast of full-range clips (phone and screen recordings).
    """
    global _REFORMATTER
    if _REFORMATTER is None:
        _REFORMATTER = av.video.reformatter.VideoReformatter()
    width, height = frame.width, frame.height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    src_range = frame.color_range or None  # 0 = unspecified
    rgb = _REFORMATTER.reformat(
        frame, width=width, height=height, format="rgb24", interpolation="AREA", src_color_range=src_range
    ).to_ndarray()
    return _apply_rotation(rgb, getattr(frame, "rotation", 0) or 0)


def _apply_rotation(rgb: np.ndarray, rotation: float) -> np.ndarray:
    """Rotate by the display matrix's angle (degrees counter-clockwise, multiples of 90)."""
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns:
        rgb = np.rot90(rgb, k=quarter_turns)
    return np.ascontiguousarray(rgb, dtype=np.uint8)
