"""Issue 15's command-line findings, each reproduced: every file gets a record, nothing the user
owns is clobbered, and no odd file system entry stops or hangs a batch."""

from __future__ import annotations

import json
import os
import shutil
import signal

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.errors import FakelensError
from fakelens.records import from_json
from fakelens.scan import ScanOptions, scan_paths
from fakelens.scan.api import collect_inputs
from fakelens.scan.output import JsonlWriter

runner = CliRunner()


def _files(out):
    return [json.loads(x) for x in out.read_text().splitlines() if '"type": "file"' in x]


@pytest.fixture()
def no_hang():
    """A FIFO opened for reading blocks forever: fail the test instead of hanging CI."""

    def boom(*_):
        raise TimeoutError("blocked on a non-regular file")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_symlink_loop_and_fifo_get_records_and_the_batch_goes_on(tmp_path, demo_dir, tiny_detector, no_hang):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(demo_dir / "astronaut.png", folder / "a.png")
    (folder / "loop.jpg").symlink_to("loop.jpg")  # resolve() raised RuntimeError and ended the batch
    os.mkfifo(folder / "pipe.mp4")  # sniffing it blocked forever
    os.mkfifo(tmp_path / "named-pipe")
    out = tmp_path / "r.jsonl"
    records = scan_paths([folder, tmp_path / "named-pipe"], out, model=tiny_detector, progress=False)
    by_name = {os.path.basename(r.file): r for r in records}
    assert by_name["a.png"].verdict in ("real", "fake")
    assert by_name["loop.jpg"].verdict == "error" and "symbolic links" in by_name["loop.jpg"].error
    assert by_name["named-pipe"].verdict == "error" and "not a regular file" in by_name["named-pipe"].error
    assert "pipe.mp4" not in by_name  # in a folder: skipped, with its reason
    skipped = dict((p.name, why) for p, why in collect_inputs([folder]).skipped)
    assert skipped["pipe.mp4"].startswith("not a regular file")
    assert len(_files(out)) == 3


def test_content_decides_and_skipped_files_are_counted_with_reasons(tmp_path, demo_dir, tiny_detector):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(demo_dir / "astronaut-pan.mp4", folder / "clip.jpg")  # an MP4 named .jpg
    image = cv2.imread(str(demo_dir / "astronaut.png"))
    (folder / "photo.jfif").write_bytes(cv2.imencode(".jpg", image)[1].tobytes())
    shutil.copy(demo_dir / "astronaut-pan.mp4", folder / "stream.ts")
    (folder / "README.txt").write_text("not media")
    (folder / "BMW.txt").write_text("BMW notes: starts like a BMP")
    shutil.copy(demo_dir / "astronaut.png", folder / ".hidden.png")
    (folder / ".cache").mkdir()
    files, _, skipped = collect_inputs([folder])
    assert sorted(p.name for p in files) == ["clip.jpg", "photo.jfif", "stream.ts"]
    reasons = {p.name: why for p, why in skipped}
    assert set(reasons) == {"README.txt", "BMW.txt", ".hidden.png", ".cache"}
    assert "not an image or video" in reasons["README.txt"] and "hidden" in reasons[".hidden.png"]
    records = {os.path.basename(r.file): r for r in scan_paths(files, model=tiny_detector, progress=False)}
    assert records["clip.jpg"].kind == "video" and records["clip.jpg"].verdict in ("real", "fake")
    assert records["photo.jfif"].kind == "image" and records["photo.jfif"].faces == 1
    res = runner.invoke(app, ["scan", str(folder), "--out", str(tmp_path / "r.jsonl"), "--frames", "2"])
    assert "4 skipped: " in res.stderr and "2 not an image or video" in res.stderr


def test_faces_beyond_the_cap_are_examined_by_default_and_counted_when_capped(
    demo_dir, tiny_detector, tmp_path
):
    face = cv2.imread(str(demo_dir / "astronaut.png"))
    grid = np.vstack([np.hstack([face] * 4)] * 3)  # 12 faces: more than the model's max_faces of 8
    cv2.imwrite(str(tmp_path / "crowd.png"), grid)
    found = scan_paths([tmp_path / "crowd.png"], model=tiny_detector, progress=False)[0]
    assert tiny_detector.face.max_faces == 8 and found.faces > 8 and found.faces_not_examined == 0
    capped = scan_paths(
        [tmp_path / "crowd.png"], model=tiny_detector, options=ScanOptions(max_faces=3), progress=False
    )[0]
    assert capped.faces == 3 and capped.faces_not_examined == found.faces - 3


def test_outputs_never_clobber_inputs_or_foreign_files(tmp_path, demo_dir, tiny_detector):
    photo = tmp_path / "a.png"
    shutil.copy(demo_dir / "astronaut.png", photo)
    before = photo.read_bytes()
    with pytest.raises(FakelensError, match="--out is one of the files to scan"):
        scan_paths([tmp_path], tmp_path / "a.png", model=tiny_detector, progress=False)
    with pytest.raises(FakelensError, match="--report is one of the files to scan"):
        scan_paths([photo], tmp_path / "r.jsonl", report=photo, model=tiny_detector, progress=False)
    assert photo.read_bytes() == before
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"hello": "my own data"}\n')
    for resume in (False, True):  # --resume used to "repair" it to nothing
        with pytest.raises(FakelensError, match="not fakelens scan output"):
            scan_paths([photo], notes, resume=resume, model=tiny_detector, progress=False)
    assert notes.read_text() == '{"hello": "my own data"}\n'
    out = tmp_path / "r.jsonl"
    with JsonlWriter(out, append=False):
        with pytest.raises(FakelensError, match="another scan is writing it"):
            JsonlWriter(out, append=True)


def test_resume_matches_resolved_paths_and_retries_errors(tmp_path, demo_dir, tiny_detector, monkeypatch):
    shutil.copy(demo_dir / "astronaut.png", tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "r.jsonl"
    monkeypatch.chdir(tmp_path)
    scan_paths(["a.png", "b.jpg"], out, model=tiny_detector, progress=False)
    again = scan_paths([tmp_path / "a.png", tmp_path / "b.jpg"], out, resume=True, model=tiny_detector)
    assert again == [] and len(_files(out)) == 2  # another spelling of the same files: nothing rescanned
    (tmp_path / "b.jpg").write_bytes(cv2.imencode(".jpg", cv2.imread(str(tmp_path / "a.png")))[1].tobytes())
    retried = scan_paths(["b.jpg"], out, resume=True, retry_errors=True, model=tiny_detector, progress=False)
    assert [r.verdict for r in retried] != ["error"]
    assert sorted((f["file"], f["verdict"] == "error") for f in _files(out)) == [
        ("a.png", False),
        ("b.jpg", False),
    ]


def test_bad_threshold_and_undecodable_names(tmp_path, demo_dir, tiny_detector):
    (tmp_path / "notes.txt").write_text("not media")
    res = runner.invoke(app, ["scan", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "e.jsonl"), "-q"])
    assert res.exit_code == 1  # every file errored: not 0
    for bad in ("nan", "inf", "-0.5", "1.5"):
        res = runner.invoke(app, ["scan", str(demo_dir / "astronaut.png"), "--threshold", bad, "-q"])
        assert res.exit_code == 2 and "--threshold must be a score between 0 and 1" in res.output
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.png")
    shutil.copy(demo_dir / "astronaut.png", name)
    out = tmp_path / "r.jsonl"
    scan_paths([name], out, model=tiny_detector, progress=False)
    line = out.read_text().splitlines()[-1]
    assert "\\ud" not in line  # no lone surrogate escapes: strict JSON readers accept it
    line.encode("utf-8", "strict")
    assert json.loads(line)["file"].endswith("caf\\xe9.png") and from_json(line).file == name
    assert scan_paths([name], out, resume=True, model=tiny_detector, progress=False) == []


def test_animations_and_tiff_pages_are_sampled_like_video(tmp_path, astronaut, tiny_detector):
    from PIL import Image

    face = Image.fromarray(astronaut).resize((256, 256))
    blank = Image.new("RGB", (256, 256), (128, 128, 128))
    frames = [
        blank,
        face.rotate(-3),
        face,
        face.rotate(3),
        blank.rotate(90),
    ]  # no two alike: GIF merges those
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "pages.tiff", save_all=True, append_images=frames[1:])
    for name in (
        "anim.gif",
        "anim.webp",
        "pages.tiff",
    ):  # frame 1 alone has no face: read as a still, no_face
        (rec,) = scan_paths([tmp_path / name], model=tiny_detector, progress=False)
        assert rec.kind == "animation" and rec.frames == 5, name
        assert rec.verdict in ("real", "fake") and rec.faces >= 3 and rec.faceless_frames == 2, name


def test_the_largest_video_stream_is_read_and_the_record_says_which(tmp_path, astronaut, tiny_detector):
    from media_helpers import write_two_streams

    path = write_two_streams(
        tmp_path / "two-streams.mkv", np.zeros((64, 64, 3), np.uint8), cv2.resize(astronaut, (256, 256))
    )
    (rec,) = scan_paths([path], model=tiny_detector, progress=False)
    assert rec.kind == "video" and rec.faces == 5  # stream 0 (64 px, blank) was read before: no face
    assert "2 video streams: read stream 1 (256x256" in rec.note


def test_review_cases_phone_mpo_devices_audio_and_linked_folders(
    tmp_path, demo_dir, astronaut, tiny_detector
):
    """An MPO phone photo is a still (its second picture is a gain map), --out may be a device, an
    audio MP4 or text that starts like a QuickTime atom is skipped, a symlinked folder is reported."""
    from PIL import Image

    face = Image.fromarray(astronaut)
    face.save(tmp_path / "phone.jpg", format="MPO", save_all=True, append_images=[face.resize((64, 64))])
    (rec,) = scan_paths([tmp_path / "phone.jpg"], "/dev/null", model=tiny_detector, progress=False)
    assert rec.kind == "image" and rec.faces == 1
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(demo_dir / "astronaut.png", folder / "a.png")
    (folder / "memo.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + b"\0" * 64)
    (folder / "notes").write_text("Tax-free allowance, see below\n")
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    files, _, skipped = collect_inputs([folder])
    reasons = {p.name: why for p, why in skipped}
    assert [p.name for p in files] == ["a.png"]
    assert "not an image or video" in reasons["memo.m4a"] and "not an image or video" in reasons["notes"]
    assert reasons["linked"].startswith("a symlinked folder: not followed")
    out = tmp_path / "r.jsonl"
    scan_paths([folder / "a.png"], out, model=tiny_detector, progress=False)
    again = scan_paths([folder / "a.png"], out, retry_errors=True, model=tiny_detector, progress=False)
    assert again == [] and len(_files(out)) == 1  # retry_errors resumes: the done file is kept
