from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from fakelens.errors import MediaError
from fakelens.media import Frame, probe_video, sample_frames
from fakelens.media.video import _apply_rotation
from media_helpers import write_audio_only, write_growing_ts, write_video

W, H = 64, 48


def _level(i: int) -> int:
    """Mean grey level painted into frame i, so a decoded frame reveals which one it is."""
    return 40 + 3 * i


def _write(
    path: Path, n: int, pts_ms: list[int] | None = None, options: dict[str, str] | None = None
) -> Path:
    """Encode n textured 64x48 frames with libx264 (B-frames on, so decode order != display order)."""
    frames = []
    for i in range(n):
        noise = np.random.default_rng(i).integers(-20, 21, (H, W, 1))
        frames.append(np.repeat((noise + _level(i)).clip(0, 255).astype(np.uint8), 3, axis=2))
    return write_video(path, frames, rate=30, pts_ms=pts_ms, container_options=options)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    vfr_pts = [i * 10 for i in range(30)] + [300 + j * 200 for j in range(10)]  # 30 fast, 10 slow
    clips = {
        "mp4": _write(d / "c60.mp4", 60, options={"movflags": "faststart"}),
        "mkv": _write(d / "c60.mkv", 60),
        "vfr": _write(d / "vfr.mkv", 40, pts_ms=vfr_pts),
        "short": _write(d / "short.mp4", 3),
    }
    for key in ("mp4", "mkv"):
        data = clips[key].read_bytes()
        cut = d / f"cut_{clips[key].name}"
        cut.write_bytes(data[: int(len(data) * 0.6)])
        clips[f"cut_{key}"] = cut
    return clips


def _assert_content(frames: list[Frame]) -> None:
    for f in frames:
        assert f.image.dtype == np.uint8 and f.image.flags.c_contiguous
        assert abs(float(f.image.mean()) - _level(f.index)) < 2.5, f"frame {f.index} holds other content"


@pytest.mark.parametrize("key", ["mp4", "mkv"])
def test_probe(clips: dict[str, Path], key: str) -> None:
    info = probe_video(clips[key])
    assert (info.frames, info.width, info.height, info.truncated) == (60, W, H, False)
    assert info.duration_s == pytest.approx(2.0, abs=0.01)
    assert info.fps == pytest.approx(30.0, abs=0.2)


@pytest.mark.parametrize("key", ["mp4", "mkv"])
def test_uniform_sampling(clips: dict[str, Path], key: str) -> None:
    frames = list(sample_frames(clips[key], num_frames=4))
    assert [f.index for f in frames] in ([7, 22, 37, 52], [8, 23, 38, 53])
    times = [f.time_s for f in frames]
    assert times == sorted(times) and times[0] == pytest.approx(frames[0].index / 30, abs=0.002)
    assert all(f.image.shape == (H, W, 3) for f in frames)
    _assert_content(frames)


def test_vfr_sampled_by_time(clips: dict[str, Path]) -> None:
    info = probe_video(clips["vfr"])
    assert info.frames == 40 and info.duration_s == pytest.approx(2.11, abs=0.02)
    frames = list(sample_frames(clips["vfr"], num_frames=4))
    # Targets 0.26 s, 0.79 s, 1.32 s, 1.85 s; by index it would be 4, 14, 24, 34.
    assert [f.index for f in frames] == [26, 32, 35, 38]
    assert [f.time_s for f in frames] == pytest.approx([0.26, 0.7, 1.3, 1.9], abs=0.002)
    _assert_content(frames)


def test_every_k_and_max_side(clips: dict[str, Path]) -> None:
    frames = list(sample_frames(clips["mp4"], num_frames=None, every=7, max_side=32))
    assert [f.index for f in frames] == list(range(0, 60, 7))
    assert all(f.image.shape == (24, 32, 3) for f in frames)
    assert [f.index for f in sample_frames(clips["mkv"], every=25)] == [0, 25, 50]  # every wins
    _assert_content(frames)


def test_fewer_frames_than_asked(clips: dict[str, Path]) -> None:
    frames = list(sample_frames(clips["short"], num_frames=16))
    assert [f.index for f in frames] == [0, 1, 2]
    assert probe_video(clips["short"]).frames == 3
    _assert_content(frames)


@pytest.mark.parametrize("key", ["cut_mp4", "cut_mkv"])
def test_truncated_clip_yields_what_it_can(clips: dict[str, Path], key: str) -> None:
    info = probe_video(clips[key])
    assert info.truncated and 20 <= info.frames < 60
    frames = list(sample_frames(clips[key], every=1))
    assert 20 <= len(frames) <= info.frames
    assert [f.index for f in frames] == list(range(len(frames)))
    _assert_content(frames)
    assert len(list(sample_frames(clips[key], num_frames=4))) == 4


def _read_error(path: Path, match: str) -> None:
    with pytest.raises(MediaError, match=match) as info:
        probe_video(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(MediaError, match=match):
        sample_frames(path)  # probed eagerly: raises before iteration


def test_bad_files(tmp_path: Path) -> None:
    audio = write_audio_only(tmp_path / "audio.mp4")
    _read_error(audio, r"no video stream \(is it an audio file\?\)")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 20)
    _read_error(tmp_path / "text.mp4", "not a recognised")
    (tmp_path / "empty.mp4").write_bytes(b"")
    _read_error(tmp_path / "empty.mp4", "empty file")
    _read_error(tmp_path / "missing.mp4", "no such file")


def test_bad_arguments(clips: dict[str, Path]) -> None:
    for kwargs in ({"num_frames": None}, {"num_frames": 0}, {"every": 0}, {"max_side": 0}):
        with pytest.raises(ValueError):
            sample_frames(clips["short"], **kwargs)


def test_rotation_metadata_is_applied() -> None:
    out = _apply_rotation(np.arange(24, dtype=np.uint8).reshape(2, 4, 3), -90)
    assert out.shape == (4, 2, 3) and out.flags.c_contiguous
    assert out[0, 0].tolist() == [12, 13, 14]  # clockwise: bottom-left pixel ends top-left


def test_long_video_seeks_to_keyframes_and_gets_the_same_frames(tmp_path: Path, monkeypatch) -> None:
    """Long videos jump to the keyframe before each sampled frame instead of decoding everything;
    the frames must be exactly those of a full sequential decode."""
    from fakelens.media import video

    n = video.SEEK_MIN_FRAMES + 60
    clip = tmp_path / "long.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream(
            "libx264", rate=30, options={"threads": "1", "g": "30", "preset": "ultrafast"}
        )
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(n):
            img = np.full((32, 32, 3), i % 200 + 20, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    scan = video._scan(clip)
    assert len(scan.keyframes) >= n // 30 - 1
    wanted = video._uniform_indices(scan.pts, scan.frame_dur, 8)
    assert video._should_seek(scan, wanted)
    decoded = []
    real_indexed = video._indexed

    def counting(*args):  # count frames the decoder really produced
        for item in real_indexed(*args):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(video, "_indexed", counting)
    sought = [(f.index, round(float(f.image.mean()))) for f in sample_frames(clip, num_frames=8)]
    assert len(decoded) < n // 3  # far fewer than all frames
    monkeypatch.setattr(video, "SEEK_MIN_FRAMES", 10**9)
    plain = [(f.index, round(float(f.image.mean()))) for f in sample_frames(clip, num_frames=8)]
    assert sought == plain and [i for i, _ in sought] == wanted


def _box(kind: bytes, payload: bytes = b"", size: int | None = None, large: bool = False) -> bytes:
    if large:  # size 1: the real size follows as 64 bits
        return (1).to_bytes(4, "big") + kind + (16 + len(payload)).to_bytes(8, "big") + payload
    return (size if size is not None else 8 + len(payload)).to_bytes(4, "big") + kind + payload


def test_cut_or_damaged_mp4s_are_told_apart(tmp_path: Path) -> None:
    """FFmpeg says only "invalid data" for all of these; the box headers say which it is."""
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2")
    cases = {
        "cut.mp4": (ftyp + _box(b"mdat", b"\x00" * 64, size=4096), "truncated MP4/MOV"),
        "no_index.mp4": (ftyp + _box(b"mdat", b"\x00" * 64, large=True), "no 'moov' index box"),
        "garbage.mp4": (ftyp + b"\xff\xfe\x00\x01" * 16, "damaged MP4/MOV (unreadable data at byte 24)"),
    }
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        _read_error(tmp_path / name, re.escape(reason))


def test_frames_that_grow_mid_stream_are_held_to_the_pixel_limit(tmp_path: Path) -> None:
    """The header says 64x64; from frame 10 the stream is 128x128 (a bomb grows the same way)."""
    path = write_growing_ts(tmp_path / "grows.ts", 64, 128)
    assert probe_video(path).width == 64
    assert {f.image.shape for f in sample_frames(path, num_frames=20)} == {(64, 64, 3), (128, 128, 3)}
    with pytest.raises(MediaError, match=r"frames from 10 on \(the stream changes size\) have 128x128"):
        list(sample_frames(path, num_frames=20, max_pixels=64 * 64 * 2))
    with pytest.raises(MediaError, match="frames have 64x64"):
        sample_frames(path, num_frames=20, max_pixels=1000)
