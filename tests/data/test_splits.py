"""Splits are keyed by group: frames of one video never span splits, same-named frames of two
videos are split independently, and the held-out share divides into dev and final."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakelens.data.splits import (
    SplitRule,
    group_of,
    read_splits,
    relative_record,
    split_files,
    split_folders,
    split_of,
    splits_record,
)
from fakelens.errors import ConfigError


def _frames(root: Path, videos: int = 60, frames: int = 5) -> dict[Path, list[Path]]:
    return {root: [root / f"vid{v}" / f"{f:04d}.png" for v in range(videos) for f in range(frames)]}


def test_frames_of_one_video_stay_in_one_split(tmp_path):
    s = split_folders(_frames(tmp_path))
    where = {p: split for split, paths in s.files.items() for p in paths}
    for v in range(60):
        assert len({where[tmp_path / f"vid{v}" / f"{f:04d}.png"] for f in range(5)}) == 1
    # same-named frames of different videos are split independently (not forced together)
    assert len({where[tmp_path / f"vid{v}" / "0001.png"] for v in range(60)}) > 1
    assert s.group_counts()["train"] > 0 and sum(s.group_counts().values()) == 60


def test_flat_folders_keep_the_name_keyed_split(tmp_path):
    """A file directly in the folder is its own group keyed by its name, as before groups, so the
    held-out share of a flat folder (the shipped models' FFHQ split) is unchanged."""
    names = [tmp_path / f"img_{i}.png" for i in range(300)]
    s = split_files(names, val=0.1, test=0.2)
    held_out = set(s["dev"]) | set(s["final"])
    assert held_out == {p for p in names if split_of(p.name) == "test"}
    assert {p for p in names if split_of(p.name) == "val"} == set(s["val"])
    assert 15 < len(s["dev"]) < 45 and 15 < len(s["final"]) < 45
    # adding files never moves an existing file to another split
    s2 = split_files(names + [tmp_path / "new.png"], val=0.1, test=0.2)
    assert all(set(s[k]) <= set(s2[k]) for k in s)
    assert group_of(tmp_path / "a" / "b.png", tmp_path) == "a" and group_of(names[0], tmp_path) == "img_0.png"


def test_final_uses_its_own_salt():
    rule = SplitRule()
    held = [f"g{i}" for i in range(2000) if split_of(f"g{i}") == "test"]
    final = [g for g in held if rule.assign(g) == "final"]
    assert 0.4 < len(final) / len(held) < 0.6
    assert SplitRule(final_salt="other").assign(final[0]) in ("dev", "final")


def test_splits_json_round_trip_and_relative_paths(tmp_path):
    root = tmp_path / "data"
    s = split_folders(_frames(root / "clips", videos=20, frames=2))
    record = relative_record(splits_record(s), root)
    assert all(not Path(p).is_absolute() for p in record["reals"]["train"])
    (tmp_path / "splits.json").write_text(json.dumps(record))
    back = read_splits(tmp_path, data_root=root)
    assert back.files("train") == s["train"] and back.rule == s.rule
    with pytest.raises(ConfigError, match="no splits.json"):
        read_splits(tmp_path / "nowhere")
    made = split_folders(_frames(tmp_path / "synth", videos=20, frames=2))  # not under the data folder
    s.files["train"] += made["train"]
    s.groups |= made.groups
    record = relative_record(splits_record(s), root)
    assert record["reals"]["train"] == [
        p.relative_to(root).as_posix() for p in s["train"] if root in p.parents
    ]
    away = record["elsewhere"]["reals"]["train"]
    assert away["files"] == len(made["train"]) and away["groups"] == sorted(
        {made.groups[str(p)] for p in made["train"]}
    )
    assert not any("synth" in k for k in record["groups"])
