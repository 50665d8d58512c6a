"""Odd video inputs through the user's path (``scan_paths`` and ``fakelens scan``): each gets one
honest record, never a traceback, and the batch goes on past the bad ones.

Clips are tiny (160x120, a few frames) and written with PyAV; a codec whose encoder (or decoder)
this PyAV lacks is skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.media import probe_video, sample_frames
from fakelens.scan import Scanner, ScanOptions, scan_paths
from media_helpers import write_audio_only, write_video

VFR_MS = [0, 40, 80, 120, 160, 200, 240, 280, 1000, 2000]  # 8 fast frames, then 2 slow ones
# file -> (encoder, decoder), for the codecs a phone or the web hands over besides H.264
CODECS = {
    "hevc.mp4": ("libx265", "hevc"),
    "vp9.webm": ("libvpx-vp9", "vp9"),
    "av1.mp4": ("libsvtav1", "av1"),
}
BAD = {  # file -> what its one-line reason must name
    "zero.mp4": "empty file",
    "truncated.mp4": "truncated MP4/MOV",
    "audio.mp4": "no video stream (is it an audio file?)",
    "cut_first_frame.mp4": "truncated video: no frame could be decoded",
}


def _missing_codec(encoder: str, decoder: str) -> str | None:
    for name, mode in ((encoder, "w"), (decoder, "r")):
        try:
            av.codec.Codec(name, mode)
        except (av.codec.codec.UnknownCodecError, ValueError):
            return f"this PyAV has no {name} {'encoder' if mode == 'w' else 'decoder'}"
    return None


def _upright(astronaut: np.ndarray) -> np.ndarray:
    """A 160x120 frame with the demo astronaut's face upright in the middle."""
    face = cv2.resize(astronaut[0:255, 87:358], (112, 112), interpolation=cv2.INTER_AREA)
    frame = np.full((120, 160, 3), 128, np.uint8)
    frame[4:116, 24:136] = face
    return frame


def _moving(img: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.roll(img, 2 * i, axis=1) for i in range(n)]


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory, astronaut) -> Path:
    root = tmp_path_factory.mktemp("odd")
    face = _upright(astronaut)
    write_video(root / "noface.mp4", [np.full((120, 160, 3), 80 + 10 * i, np.uint8) for i in range(4)])
    write_video(root / "one_frame.mp4", [face])
    # a phone held upright: stored sideways (turned counter-clockwise), a display matrix turns it back
    sideways = [np.ascontiguousarray(np.rot90(f)) for f in _moving(face, 4)]
    write_video(root / "rotated.mp4", sideways, rotation=-90)
    write_video(root / "sideways.mp4", sideways)  # the same pixels without the matrix: the control
    write_video(root / "vfr.mp4", _moving(face, len(VFR_MS)), pts_ms=VFR_MS)
    for name, (encoder, decoder) in CODECS.items():
        if _missing_codec(encoder, decoder) is None:
            options = {"preset": "12", "svtav1-params": "lp=1"} if encoder == "libsvtav1" else None
            write_video(root / name, _moving(face, 4), codec=encoder, options=options)
    (root / "zero.mp4").write_bytes(b"")
    data = write_video(root / "whole.mp4", _moving(face, 8)).read_bytes()  # index (moov) at the end
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "whole.mp4").unlink()
    # index first ("faststart" layout), then cut: the frames before the cut are still evidence;
    # cut inside the first (key)frame, nothing is
    fast = write_video(root / "whole.mp4", _moving(face, 8), container_options={"movflags": "faststart"})
    with av.open(str(fast)) as src:
        packets = [(p.pos, p.size) for p in src.demux(src.streams.video[0]) if p.size]
    data = fast.read_bytes()
    (root / "cut_faststart.mp4").write_bytes(data[: packets[3][0] + packets[3][1] // 2])
    (root / "cut_first_frame.mp4").write_bytes(data[: packets[0][0] + packets[0][1] // 2])
    fast.unlink()
    write_audio_only(root / "audio.mp4")
    return root


@pytest.fixture(scope="module")
def scanned(odd_folder, tiny_detector, tmp_path_factory):
    """One scan of the whole folder: the records in order, by file name, and the JSONL lines."""
    out = tmp_path_factory.mktemp("out") / "r.jsonl"
    records = scan_paths([odd_folder], out, model=tiny_detector, progress=False)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    return records, {Path(r.file).name: r for r in records}, lines


def _record(scanned, name):
    _, by_name, _ = scanned
    if name not in by_name:
        encoder, decoder = CODECS[name]
        pytest.skip(_missing_codec(encoder, decoder))
    return by_name[name]


def test_one_record_per_input_and_the_batch_goes_on(odd_folder, scanned):
    records, by_name, lines = scanned
    names = sorted(p.name for p in odd_folder.iterdir())
    assert sorted(by_name) == names and len(records) == len(names)
    assert sorted(Path(x["file"]).name for x in lines if x["type"] == "file") == names
    verdicts = [r.verdict for r in records]
    first_error = verdicts.index("error")
    assert any(v in ("real", "fake") for v in verdicts[first_error + 1 :])  # scanned past a bad file


@pytest.mark.parametrize("name", sorted(BAD))
def test_unreadable_files_are_one_line_errors_naming_the_problem(scanned, name):
    rec = _record(scanned, name)
    assert rec.verdict == "error" and rec.score is None and rec.faces == 0
    assert rec.error.startswith(f"cannot read '{rec.file}': {BAD[name]}") and "\n" not in rec.error


def test_a_faceless_clip_is_no_face(scanned):
    rec = _record(scanned, "noface.mp4")
    assert (rec.verdict, rec.score, rec.faces, rec.frames, rec.faceless_frames, rec.error) == (
        "no_face",
        None,
        0,
        4,
        4,
        None,
    )


def test_a_one_frame_clip_is_judged_on_its_single_frame(scanned):
    rec = _record(scanned, "one_frame.mp4")
    faces = [x for x in scanned[2] if x["type"] == "face" and x["file"] == rec.file]
    assert rec.verdict in ("real", "fake") and (rec.frames, rec.faces) == (1, 1)
    assert rec.score == pytest.approx(faces[0]["score"], abs=1e-6) and faces[0]["frame"] == 0


def test_a_rotated_phone_clip_is_read_upright_and_its_face_found(odd_folder, scanned):
    frame = next(iter(sample_frames(odd_folder / "rotated.mp4", num_frames=1)))
    assert frame.image.shape == (120, 160, 3)  # coded 120 wide x 160 high, displayed 160 x 120
    info = probe_video(odd_folder / "rotated.mp4")
    assert (info.width, info.height) == (120, 160)
    rec = _record(scanned, "rotated.mp4")
    assert rec.verdict in ("real", "fake") and rec.faces == rec.frames == 4
    assert _record(scanned, "sideways.mp4").verdict == "no_face"  # the matrix, not luck, found it


@pytest.mark.parametrize("name", [*CODECS, "vfr.mp4"])
def test_other_codecs_and_variable_frame_rate_get_verdicts(scanned, name):
    rec = _record(scanned, name)
    assert rec.verdict in ("real", "fake") and rec.error is None
    assert rec.faces == rec.frames == (len(VFR_MS) if name == "vfr.mp4" else 4)
    if name == "vfr.mp4":  # real timestamps, not index / fps
        times = sorted({x["time_s"] for x in scanned[2] if x["type"] == "face" and x["file"] == rec.file})
        assert times == pytest.approx([t / 1000 for t in VFR_MS], abs=1e-3)


def test_vfr_frames_are_sampled_evenly_in_time(odd_folder, tiny_detector):
    result = Scanner(tiny_detector, ScanOptions(num_frames=3)).scan_file(odd_folder / "vfr.mp4")
    # targets 0.34 s, 1.02 s, 1.70 s of 2.04 s: by index it would be frames 1, 5, 8
    assert sorted({f.frame for f in result.faces}) == [7, 8, 9]


def test_a_truncated_faststart_clip_is_judged_on_what_decodes(scanned):
    rec = _record(scanned, "cut_faststart.mp4")
    assert rec.verdict in ("real", "fake") and 1 <= rec.frames < 8 and rec.faces == rec.frames


def test_a_failing_model_on_an_odd_clip_is_still_a_model_failure(monkeypatch, odd_folder, tiny_detector):
    from fakelens.scan import ModelFailure

    def fail(*_args, **_kwargs):
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(tiny_detector, "predict_proba", fail)
    with pytest.raises(ModelFailure, match="rotated.mp4"):
        Scanner(tiny_detector).scan_file(odd_folder / "rotated.mp4")


def test_cli_exit_codes_over_the_odd_clips(tmp_path, odd_folder):
    runner = CliRunner()
    out = tmp_path / "r.jsonl"
    res = runner.invoke(app, ["scan", str(odd_folder), "-o", str(out), "-q"])
    assert res.exit_code == 1, res.output  # some files unreadable: the rest are kept
    errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == len(BAD) and all(any(n in e for e in errors) for n in BAD)
    assert "Traceback" not in res.output
    n_files = len(list(odd_folder.iterdir()))
    assert sum('"type": "file"' in x for x in out.read_text().splitlines()) == n_files
    good = tmp_path / "good"
    good.mkdir()
    for name in ("noface.mp4", "one_frame.mp4", "rotated.mp4", "vfr.mp4"):
        shutil.copy(odd_folder / name, good / name)
    res = runner.invoke(app, ["scan", str(good), "-o", str(tmp_path / "g.jsonl"), "-q"])
    assert res.exit_code == 0, res.output  # no_face is a scanned file, not a failure
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "notes.txt").write_text("not media")
    res = runner.invoke(app, ["scan", str(tmp_path / "none"), "-q"])
    assert res.exit_code == 2 and res.stderr.startswith("error: nothing to scan")
