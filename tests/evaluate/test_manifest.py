"""Manifest reading: every format round-trips, every mistake is one line naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakelens.errors import FakelensError
from fakelens.evaluate import ManifestRow, read_manifest


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(FakelensError) as info:
        read_manifest(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


def _expected(base: Path) -> list[ManifestRow]:
    return [
        ManifestRow(base / "frames/a.png", 0, "vid_a", None),
        ManifestRow(base / "frames/b.png", 1, "vid_b", "faceswap"),
        ManifestRow(Path("/data/abs.png"), 1, None, None),
    ]


def test_csv_round_trip_with_relative_paths(tmp_path):
    text = (
        "path,label,video_id,method,notes\n"
        "frames/a.png,real,vid_a,,first\n"
        "\n"
        "frames/b.png,FAKE,vid_b,faceswap,\n"
        "/data/abs.png,1,,,\n"
    )
    assert read_manifest(_write(tmp_path / "m.csv", text)) == _expected(tmp_path)


def test_tsv_round_trip(tmp_path):
    text = (
        "PATH\tLabel\tvideo_id\tmethod\n"
        "frames/a.png\t0\tvid_a\t\n"
        "frames/b.png\ttrue\tvid_b\tfaceswap\n"
        "/data/abs.png\tFake\t\t\n"
    )
    assert read_manifest(_write(tmp_path / "m.tsv", text)) == _expected(tmp_path)


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_jsonl_round_trip(tmp_path, suffix):
    records = [
        {"path": "frames/a.png", "label": 0, "video_id": "vid_a", "extra": [1, 2]},
        {"path": "frames/b.png", "label": True, "video_id": "vid_b", "method": "faceswap"},
        {"path": "/data/abs.png", "label": "1", "video_id": None},
    ]
    lines = [json.dumps(r) for r in records]
    text = lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n"
    rows = read_manifest(_write(tmp_path / f"m{suffix}", text))
    assert rows == _expected(tmp_path)
    assert all(r.path.is_absolute() for r in rows)


def test_relative_manifest_path_still_resolves_against_its_folder(tmp_path, monkeypatch):
    sub = tmp_path / "lists"
    sub.mkdir()
    _write(sub / "m.csv", "path,label\nx.png,0\n")
    monkeypatch.chdir(tmp_path)
    assert read_manifest("lists/m.csv")[0].path == tmp_path / "lists" / "x.png"


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "name,text",
    [("e.csv", ""), ("h.csv", "path,label\n"), ("b.tsv", "\n\n"), ("e.jsonl", "\n  \n")],
)
def test_empty_manifest(tmp_path, name, text):
    assert _error(_write(tmp_path / name, text)).endswith("no rows")


def test_missing_column_lists_columns(tmp_path):
    msg = _error(_write(tmp_path / "m.csv", "path,lbl\na.png,1\n"))
    assert "missing column 'label' (columns are: path, lbl)" in msg


def test_bad_label_names_line(tmp_path):
    text = "path,label\n" + "".join(f"f{i}.png,1\n" for i in range(5)) + "f5.png,maybe\n"
    msg = _error(_write(tmp_path / "m.csv", text))
    assert "line 7: label 'maybe' is not one of 0, 1, real, fake" in msg


def test_bad_label_line_counts_blank_lines(tmp_path):
    msg = _error(_write(tmp_path / "m.tsv", "path\tlabel\n\na.png\t0\n\nb.png\t2\n"))
    assert "line 5: label '2'" in msg


def test_missing_label_value(tmp_path):
    assert "line 2: label ''" in _error(_write(tmp_path / "m.csv", "path,label\na.png\n"))


def test_empty_path(tmp_path):
    assert "line 3: empty path" in _error(_write(tmp_path / "m.csv", "path,label\na.png,0\n ,1\n"))


def test_bad_json_names_line(tmp_path):
    text = '{"path": "a.png", "label": 0}\n{"path": "b.png", "label": 1\n'
    assert "line 2: invalid JSON" in _error(_write(tmp_path / "m.jsonl", text))


def test_json_not_an_object(tmp_path):
    assert "line 1: expected a JSON object, got list" in _error(_write(tmp_path / "m.jsonl", "[1, 2]\n"))


def test_jsonl_missing_key_names_line(tmp_path):
    text = '{"path": "a.png", "label": 0}\n\n{"path": "b.png"}\n'
    assert "line 3: missing column 'label'" in _error(_write(tmp_path / "m.jsonl", text))


def test_jsonl_bad_label(tmp_path):
    text = '{"path": "a.png", "label": 0.5}\n'
    assert "line 1: label '0.5' is not one of" in _error(_write(tmp_path / "m.jsonl", text))


def test_not_utf8(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"path,label\n\xff\xfe.png,1\n")
    assert "not UTF-8" in _error(path)


def test_directory_instead_of_file(tmp_path):
    assert "is a directory" in _error(tmp_path)


def test_frame_and_aligned_columns(tmp_path):
    text = '{"path": "a.png", "label": 1, "frame": 12, "aligned": "abc"}\n{"path": "b.png", "label": 0}\n'
    a, b = read_manifest(_write(tmp_path / "m.jsonl", text))
    assert (a.frame, a.aligned, b.frame, b.aligned) == (12, "abc", None, None)
    assert "line 3: frame 'x' is not a whole number" in _error(
        _write(tmp_path / "m.csv", "path,label,frame\na.png,0,1\nb.png,0,x\n")
    )
