from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.data.prepare import frames_folder_indices, prepare_dataset
from fakelens.evaluate.manifest import read_manifest
from fakelens.faces import FaceConfig
from media_helpers import write_video

SIDE = 256  # YuNet finds the demo astronaut from ~200 px up


def _png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def small(astronaut) -> np.ndarray:
    return cv2.resize(astronaut, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


@pytest.fixture()
def generic_tree(tmp_path, small) -> Path:
    """A photo, a frames folder, a clip with one blank frame, a faceless photo and a corrupt video."""
    root = tmp_path / "mini"
    _png(root / "real/astro.png", small)
    _png(root / "real/wall.png", np.full((SIDE, SIDE, 3), 90, np.uint8))
    _png(root / "real/vid01/0000.png", small)
    _png(root / "real/vid01/0001.png", np.roll(small, 4, axis=1))
    clip = [np.roll(small, 2 * i, axis=1) for i in range(6)]
    clip[1] = np.full_like(small, 90)  # the first of 3 evenly spaced frames (index 1) has no face
    write_video(root / "fake/faceswap/clip.mp4", clip)
    (root / "fake/faceswap/broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return root


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _key(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def test_prepare_generic_end_to_end_resume_and_workers(generic_tree, tmp_path):
    out = tmp_path / "out"
    s = prepare_dataset(generic_tree, "generic", out, frames=3, workers=1, progress=False)
    rows = _rows(out)
    assert (s.items, s.processed, s.resumed, s.errors) == (5, 4, 0, 1)
    assert s.faces == len(rows) == 1 + 2 + 2  # photo, two folder frames, two clip frames with a face
    by_vid = {}
    for r in rows:
        by_vid.setdefault(r["video_id"], []).append(r)
    assert set(by_vid) == {"mini/real/astro", "mini/real/vid01", "mini/fake/faceswap/clip"}
    clip = sorted(by_vid["mini/fake/faceswap/clip"], key=lambda r: r["frame"])
    assert [r["frame"] for r in clip] == [3, 5] and clip[0]["time_s"] == pytest.approx(0.12)
    assert (clip[0]["label"], clip[0]["method"], clip[0]["dataset"]) == (1, "faceswap", "mini")
    assert clip[0]["path"] == "faces/mini/fake/faceswap/clip/000003.png" and clip[0]["mask"] is None
    for r in rows:
        crop = cv2.imread(str(out / r["path"]))
        assert crop.shape == (224, 224, 3)
        lm = np.array(r["landmarks"])
        assert lm.shape == (68, 2) and (lm > 0).all() and (lm < 224).all()
        assert r["split"] in ("train", "val", "test") and Path(r["source"]).is_file()
    # evaluate reads the manifest as is (relative paths resolve against it)
    manifest = read_manifest(out / "manifest.jsonl")
    assert {m.video_id for m in manifest} == set(by_vid) and all(m.path.is_file() for m in manifest)
    assert {m.aligned for m in manifest} == {FaceConfig().fingerprint()}  # scored as crops, not re-detected
    report = json.loads((out / "prepare-report.json").read_text())
    assert [e["video_id"] for e in report["errors"]] == ["mini/fake/faceswap/broken"]
    faceless = {(f["video_id"], f["frame"]) for f in report["faceless_frames"]}
    assert faceless == {("mini/real/wall", 0), ("mini/fake/faceswap/clip", 1)}
    assert report["items_without_face"] == ["mini/real/wall"]
    config = json.loads((out / "prepare-config.json").read_text())
    assert config["layout"] == "generic" and config["frames"] == 3

    # resume redoes nothing complete (only the unreadable file is retried) ...
    stamp = {r["path"]: (out / r["path"]).stat().st_mtime_ns for r in rows}
    s2 = prepare_dataset(generic_tree, "generic", out, frames=3, workers=1, progress=False)
    assert (s2.processed, s2.resumed, s2.errors, s2.faces) == (0, 4, 1, 0)
    assert _key(_rows(out)) == _key(rows)
    assert all((out / p).stat().st_mtime_ns == t for p, t in stamp.items())
    # ... and after an interruption redoes only the unfinished item, dropping its half-written rows
    done = (out / "done.jsonl").read_text().splitlines()
    cut = next(i for i, line in enumerate(done) if json.loads(line)["faces"] > 0)
    lost = json.loads(done[cut])["video_id"]
    (out / "done.jsonl").write_text("".join(line + "\n" for i, line in enumerate(done) if i != cut))
    with open(out / "manifest.jsonl", "a") as fp:
        fp.write(json.dumps(next(r for r in rows if r["video_id"] == lost)) + "\n" + '{"path": "cut')
    s3 = prepare_dataset(generic_tree, "generic", out, frames=3, workers=1, progress=False)
    assert (s3.processed, s3.resumed) == (1, 3)
    assert _key(_rows(out)) == _key(rows)
    with pytest.raises(Exception, match="other settings"):
        prepare_dataset(generic_tree, "generic", out, frames=4, workers=1, progress=False)

    # two worker processes give the same rows (in any order)
    out2 = tmp_path / "out2"
    s4 = prepare_dataset(generic_tree, "generic", out2, frames=3, workers=2, progress=False)
    assert (s4.processed, s4.errors) == (4, 1)
    assert _key(_rows(out2)) == _key(rows)

    # a resume after a source was removed drops that item's rows (and says so)
    (generic_tree / "real" / "astro.png").unlink()
    s5 = prepare_dataset(generic_tree, "generic", out, frames=3, workers=1, progress=False)
    assert (s5.items, s5.processed, s5.resumed) == (4, 0, 3)
    assert _key(_rows(out)) == _key([r for r in rows if r["video_id"] != "mini/real/astro"])
    assert any("1 item(s) of an earlier run are no longer in SRC" in n for n in s5.notes)
    assert "mini/real/astro" not in (out / "done.jsonl").read_text()


def test_ffpp_mask_is_warped_into_the_crop(tmp_path, small, face_pipeline):
    root = tmp_path / "ffpp"
    box = face_pipeline.detect(small)[0].box
    x0, y0, x1, y1 = (int(v) for v in box)
    mask = np.zeros_like(small)
    mask[y0:y1, x0:x1] = 255
    frames = [small] * 4
    write_video(root / "original_sequences/youtube/c23/videos/000.mp4", frames)
    write_video(root / "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4", frames)
    write_video(root / "manipulated_sequences/Deepfakes/masks/videos/000_001.mp4", [mask] * 4)
    out = tmp_path / "out"
    s = prepare_dataset(root, "ffpp", out, frames=2, workers=1, progress=False)
    assert s.errors == 0 and s.faces == 4
    fake = [r for r in _rows(out) if r["label"] == 1]
    real = [r for r in _rows(out) if r["label"] == 0]
    assert len(fake) == 2 and all(r["video_id"] == "ffpp/Deepfakes/c23/000_001" for r in fake)
    assert all(r["mask"] is None for r in real)
    for r in fake:
        m = cv2.imread(str(out / r["mask"]), cv2.IMREAD_GRAYSCALE)
        assert m.shape == (224, 224) and set(np.unique(m)) <= {0, 255}
        lm = np.array(r["landmarks"])
        nose = lm[30].round().astype(int)
        assert m[nose[1], nose[0]] == 255  # the face is inside the mask
        assert 0.1 < (m > 0).mean() < 0.9 and m[0, 0] == 0  # and the crop's corner is not


def test_mask_picks_the_manipulated_face_not_the_largest(tmp_path, small, face_pipeline):
    smaller = np.zeros_like(small)
    smaller[28:228, 28:228] = cv2.resize(small, (200, 200), interpolation=cv2.INTER_AREA)
    frame = np.concatenate([small, smaller], axis=1)  # the larger face on the left
    x0, y0, x1, y1 = (int(v) for v in face_pipeline.detect(smaller)[0].box)
    mask = np.zeros_like(frame)
    mask[y0:y1, SIDE + x0 : SIDE + x1] = 255  # only the smaller face was manipulated
    root = tmp_path / "ffpp"
    write_video(root / "manipulated_sequences/FaceSwap/c23/videos/000_001.mp4", [frame] * 2)
    write_video(root / "manipulated_sequences/FaceSwap/masks/videos/000_001.mp4", [mask] * 2)
    out = tmp_path / "out"
    prepare_dataset(root, "ffpp", out, frames=1, workers=1, progress=False)
    (row,) = _rows(out)
    assert row["box"][0] > SIDE  # the right-hand (masked) face, although it is the smaller one


runner = CliRunner()


def test_cli_prepare_bad_path_and_empty_dataset(tmp_path, generic_tree):
    res = runner.invoke(
        app, ["prepare", str(tmp_path / "nope"), "--layout", "ffpp", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0 and "no such folder" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(
        app, ["prepare", str(tmp_path / "empty"), "--layout", "celebdf", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0 and "no media found" in res.output
    res = runner.invoke(
        app, ["prepare", str(tmp_path / "empty"), "--layout", "bogus", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 2 and "--layout 'bogus' is not one of" in res.output


@pytest.mark.parametrize(("n", "count"), [(4, 32), (2, 3), (10, 3), (100, 32), (33, 32), (1, 5)])
def test_frames_folder_sampling_takes_min_n_count_distinct_frames(n, count):
    idx = frames_folder_indices(n, count)
    assert len(set(idx)) == len(idx) == min(n, count)  # a short folder gives all its frames, not frame 0
    assert idx == sorted(idx) and 0 <= idx[0] and idx[-1] < n
    if count < n:  # spread over the whole folder: first and last shares are both represented
        assert idx[0] < n / count and idx[-1] >= n - n / count
