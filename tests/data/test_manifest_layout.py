"""The ``manifest`` layout: a folder's MANIFEST.tsv decides label, group and split (by group)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.data.layouts import parse_layout
from fakelens.data.manifest import read_manifest
from fakelens.data.prepare import prepare_dataset
from fakelens.data.splits import split_of
from fakelens.errors import FakelensError
from media_helpers import write_video

SIDE = 256  # YuNet finds the demo astronaut from ~200 px up
HEADER = "relative_path\tlabel\tmethod\tdataset\tgroup\tduration_s\tresolution\tsource_repo\n"


def _png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _manifest(root: Path, lines: list[str], header: str = HEADER) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "MANIFEST.tsv").write_text(header + "".join(line + "\n" for line in lines))
    return root


@pytest.fixture(scope="module")
def small(astronaut) -> np.ndarray:
    return cv2.resize(astronaut, (SIDE, SIDE), interpolation=cv2.INTER_AREA)


@pytest.fixture()
def clips(tmp_path, small) -> Path:
    """A real clip, a fake photo inside a folder named real/, a missing file and a text file."""
    root = tmp_path / "clips"
    write_video(root / "mead/a.mp4", [np.roll(small, 2 * i, axis=1) for i in range(6)])
    _png(root / "real/b.png", small)
    (root / "mead/notes.txt").write_text("not media")
    return _manifest(
        root,
        [
            "mead/a.mp4\treal\treal\tMEAD\tmead\t0.24\t256x256\tx/y",
            "real/b.png\tfake\tsadtalker\tSadTalker\tsadtalker\t\t256x256\tx/z",
            "mead/gone.mp4\treal\treal\tMEAD\tmead\t3.0\t256x256\tx/y",
            "mead/notes.txt\treal\treal\tMEAD\tmead\t\t\tx/y",
        ],
    )


def test_manifest_columns_decide_label_group_video_id_and_split(clips):
    notes: list[str] = []
    items = {it.video_id: it for it in parse_layout(clips, "manifest", notes=notes)}
    assert set(items) == {"clips/mead/a", "clips/real/b"}
    a, b = items["clips/mead/a"], items["clips/real/b"]
    assert (a.label, a.method, a.dataset, a.group, a.kind) == (0, "real", "MEAD", "mead", "video")
    assert (b.label, b.method, b.group, b.kind) == (1, "sadtalker", "sadtalker", "image")  # not "real/"
    assert a.split == split_of("mead") and b.split == split_of("sadtalker")
    assert any("line 4: 'mead/gone.mp4' is listed but not present; skipped" in n for n in notes)
    assert any("line 5: 'mead/notes.txt' is not an image or a video (.txt)" in n for n in notes)


def test_every_file_of_a_group_shares_its_split(tmp_path):
    group, names = "mead", [f"m/c{i}" for i in range(6)]
    assert len({split_of(f"clips/{n}") for n in names}) > 1  # hashed file by file, they would split
    root = tmp_path / "clips"
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / f"{n}.mp4").write_bytes(b"")
    _manifest(root, [f"{n}.mp4\treal\treal\tMEAD\t{group}\t1\t1x1\tx/y" for n in names])
    items = parse_layout(root, "manifest")
    assert len(items) == len(names) and {it.split for it in items} == {split_of(group)}
    assert {it.group for it in items} == {group}


def test_without_a_group_column_files_group_by_source_repo(tmp_path):
    root = tmp_path / "photos"
    for i in range(4):
        _png(root / f"utk/{i}.jpg", np.zeros((8, 8, 3), np.uint8))
    header = "relative_path\tlabel\tmethod\tsource_repo\n"
    notes: list[str] = []
    _manifest(root, [f"utk/{i}.jpg\treal\tUTKFace\towner/utk" for i in range(4)], header)
    items = parse_layout(root, "manifest", notes=notes)
    assert {(it.group, it.split, it.dataset) for it in items} == {
        ("owner/utk", split_of("owner/utk"), "photos")
    }
    assert any("no 'group' column" in n and "source_repo" in n for n in notes)


@pytest.mark.parametrize(
    ("lines", "header", "match"),
    [
        (["a.png\treal\treal"], "relative_path\tmethod\tgroup\n", "missing column 'label'"),
        (["a.png\tmaybe\treal\tg"], "relative_path\tlabel\tmethod\tgroup\n", "line 2: label 'maybe' is not"),
        (["a.png\treal\treal\t"], "relative_path\tlabel\tmethod\tgroup\n", "line 2: empty group"),
        (
            ["../a.png\treal\treal\tg"],
            "relative_path\tlabel\tmethod\tgroup\n",
            "line 2: '../a.png' is not inside",
        ),
        (
            ["a.png\treal\treal\tg", "a.jpg\treal\treal\tg"],
            "relative_path\tlabel\tmethod\tgroup\n",
            "line 3: 'a.jpg' has the video id of line 2",
        ),
        ([], "", "empty"),
    ],
)
def test_malformed_manifest_is_a_one_line_error_naming_it(tmp_path, lines, header, match):
    root = _manifest(tmp_path / "bad", lines, header)
    with pytest.raises(FakelensError, match=match) as exc:
        parse_layout(root, "manifest")
    assert "\n" not in str(exc.value) and str(root / "MANIFEST.tsv") in str(exc.value)


def test_missing_manifest_and_nothing_present_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FakelensError, match="no MANIFEST.tsv"):
        parse_layout(tmp_path / "empty", "manifest")
    root = _manifest(tmp_path / "gone", ["a.mp4\treal\treal\tMEAD\tg\t1\t1x1\tx/y"])
    with pytest.raises(FakelensError, match="no media found"):
        parse_layout(root, "manifest")
    res = CliRunner().invoke(app, ["prepare", str(tmp_path / "empty"), "--layout", "manifest", "-o", "o"])
    assert res.exit_code != 0 and "no MANIFEST.tsv" in res.output


def test_prepare_manifest_rows_keep_group_video_id_and_split(clips, tmp_path):
    out = tmp_path / "out"
    s = prepare_dataset(clips, "manifest", out, frames=3, workers=1, progress=False)
    assert (s.items, s.errors) == (2, 0)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    clip = sorted((r for r in rows if r["video_id"] == "clips/mead/a"), key=lambda r: r["frame"])
    assert [r["frame"] for r in clip] == [1, 3, 5]  # 3 of 6 frames, evenly spaced in time
    photo = [r for r in rows if r["video_id"] == "clips/real/b"]
    assert len(photo) == 1 and (photo[0]["label"], photo[0]["group"]) == (1, "sadtalker")
    assert {(r["label"], r["group"], r["dataset"], r["method"]) for r in clip} == {
        (0, "mead", "MEAD", "real")
    }
    splits = defaultdict(set)
    for r in rows:
        splits[r["group"]].add(r["split"])
    assert splits == {"mead": {split_of("mead")}, "sadtalker": {split_of("sadtalker")}}
    read = read_manifest(out / "manifest.jsonl")  # what training reads: the group survives
    assert {r.group for r in read} == {"mead", "sadtalker"}
    report = json.loads((out / "prepare-report.json").read_text())
    assert any("'mead/gone.mp4' is listed but not present" in n for n in report["notes"])


def test_shared_video_real_manifest_parses_by_group(shared_data):
    root = shared_data / "video-real"
    if not (root / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/data/video-real is not present")
    notes: list[str] = []
    items = parse_layout(root, "manifest", notes=notes)
    listed = (root / "MANIFEST.tsv").read_text().strip().count("\n")
    assert len(items) + len(notes) == listed and len({it.video_id for it in items}) == len(items)
    assert all(it.video_id.startswith("video-real/") and it.kind == "video" and it.label == 0 for it in items)
    by_group = defaultdict(set)
    for it in items:
        by_group[it.group].add(it.split)
    assert len(by_group) > 10 and all(s == {split_of(g)} for g, s in by_group.items())
