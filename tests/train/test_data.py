"""What training reads: folders split by group (with a warning for frame folders), manifests'
fakes kept as ready-made fakes, and a group in both train and val refused."""

from __future__ import annotations

import json

import pytest

from fakelens.errors import ConfigError
from fakelens.train.config import DataSection
from fakelens.train.data import data_splits


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_frame_folders_are_grouped_and_warned_about(tmp_path, capsys):
    for v in range(30):
        for f in range(4):
            _touch(tmp_path / "frames" / f"vid{v}" / f"{f:04d}.png")
    reals, _, _ = data_splits(DataSection(real_dirs=[tmp_path / "frames"]))
    assert "grouped by their folder" in capsys.readouterr().err
    seen = {}
    for split, paths in reals.files.items():
        for p in paths:
            assert seen.setdefault(p.parent.name, split) == split  # a video never spans two splits
    assert len(set(seen.values())) > 1
    data_splits(DataSection(real_dirs=[tmp_path / "frames"], group_by="folder"))
    assert "grouped" not in capsys.readouterr().err
    by_file, _, _ = data_splits(DataSection(real_dirs=[tmp_path / "frames"], group_by="file"))
    where: dict[str, set[str]] = {}
    for split, paths in by_file.files.items():
        for p in paths:
            where.setdefault(p.parent.name, set()).add(split)
    assert any(len(splits) > 1 for splits in where.values())  # each frame on its own


def test_manifest_fakes_and_groups(tmp_path):
    rows = [
        {"path": f"r{i}.png", "label": 0, "group": f"person{i % 5}", "video_id": f"v{i}"} for i in range(40)
    ] + [{"path": f"f{i}.png", "label": 1, "group": f"person{i % 5}", "split": "train"} for i in range(3)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    reals, fakes, _ = data_splits(DataSection(manifest=manifest, val_fraction=0.4, test_fraction=0.0))
    assert len(fakes["train"]) == 3
    groups = {s: {reals.groups[str(p)] for p in reals[s]} for s in ("train", "val")}
    assert not groups["train"] & groups["val"]  # rows without a split follow their group
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"path": "a.png", "label": 0, "group": "g", "split": "train"})
        + "\n"
        + json.dumps({"path": "b.png", "label": 0, "group": "g", "split": "val"})
        + "\n"
    )
    with pytest.raises(ConfigError, match="in both train and val"):
        data_splits(DataSection(manifest=bad))


def test_excluded_groups_and_folders_beside_a_manifest(tmp_path, capsys):
    """A recipe can leave whole groups out (sources whose fakes a benchmark holds) and add folder
    reals (photos) beside a manifest's video frames, each split by its own groups."""
    rows = [{"path": f"r{i}.png", "label": 0, "group": f"g{i % 6}", "split": "train"} for i in range(24)]
    rows += [{"path": f"f{i}.png", "label": 1, "group": f"g{i % 6}", "split": "val"} for i in range(12)]
    # an animated fake of g1 driven by a clip of the excluded g5: made from g5, so left out too
    rows += [{"path": "drv.png", "label": 1, "group": "g1", "source_groups": ["g1", "g5"], "split": "val"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for i in range(20):
        _touch(tmp_path / "photos" / f"p{i}.png")
    data = DataSection(
        manifest=manifest, real_dirs=[tmp_path / "photos"], exclude_groups=["g0", "g5", "gone"]
    )
    reals, fakes, _ = data_splits(data)
    kept = {reals.groups[str(p)] for p in reals["train"] + reals["val"]}
    assert not kept & {"g0", "g5"} and {"g1", "g2", "g3", "g4"} <= kept
    assert {fakes.groups[str(p)] for p in fakes["val"]} == {"g1", "g2", "g3", "g4"}
    photos = [p for s in ("train", "val") for p in reals[s] if p.parent.name == "photos"]
    assert 10 < len(photos) < 20  # the folder's own test share stays out
    assert not any(p.name == "drv.png" for p in fakes["val"])
    assert "left out 13 rows of 2 excluded group(s) (g0, g5)" in capsys.readouterr().err


def test_manifest_split_regroups_rows_and_drops_fakes_made_across_splits(tmp_path, capsys):
    """A dataset whose own split leaves too few validation groups can be re-split by group; a fake
    whose driving clip would land in the other split is left out."""
    from fakelens.data.splits import SplitRule
    from fakelens.train.config import ManifestSplit

    groups = [f"g{i}" for i in range(40)]
    rows = [{"path": f"r{g}.png", "label": 0, "group": g, "split": "train"} for g in groups]
    rows += [{"path": f"f{g}.png", "label": 1, "group": g, "split": "train"} for g in groups]
    rule = SplitRule(val=0.3, test=0.1, salt="s")
    where = {g: rule.assign(g) for g in groups}
    a = next(g for g in groups if where[g] == "train")
    b = next(g for g in groups if where[g] == "val")
    rows += [{"path": "across.png", "label": 1, "group": a, "source_groups": [a, b], "split": "train"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    as_given, _, _ = data_splits(DataSection(manifest=manifest))
    assert not as_given["val"]  # every row says train
    data = DataSection(manifest=manifest, manifest_split=ManifestSplit(val=0.3, test=0.1, salt="s"))
    reals, fakes, _ = data_splits(data)
    for split in ("train", "val"):
        assert {reals.groups[str(p)] for p in reals[split]} == {g for g in groups if where[g] == split}
        assert {fakes.groups[str(p)] for p in fakes[split]} == {g for g in groups if where[g] == split}
    held_out = [g for g in groups if where[g] not in ("train", "val")]
    assert held_out and not any(
        f"r{g}.png" in str(p) for g in held_out for p in reals["train"] + reals["val"]
    )
    assert not any(p.name == "across.png" for s in ("train", "val") for p in fakes[s])
    assert "left out 1 fakes made from two splits' clips" in capsys.readouterr().err


def test_a_face_pipeline_bug_stops_face_loading_instead_of_skipping_the_file(tmp_path, demo_dir, monkeypatch):
    """Only unreadable files are skipped; an error of the pipeline itself would otherwise be cached
    as a 'skipped' face and quietly shrink the training set."""
    import fakelens.data.facecache as facecache
    from fakelens.faces import FaceConfig

    def broken(*_args, **_kwargs):
        raise RuntimeError("landmark model broke")

    monkeypatch.setattr(facecache, "landmarks68", broken)
    with pytest.raises(RuntimeError, match="landmark model broke"):
        facecache.build_faceset([demo_dir / "astronaut.png"], FaceConfig(), tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.npz")) if (tmp_path / "cache").exists() else True
    missing = facecache.build_faceset([tmp_path / "gone.png"], FaceConfig(), None)
    assert len(missing) == 0 and missing.skipped[0][0] == str(tmp_path / "gone.png")


def test_person_groups_keep_one_persons_photos_together(tmp_path):
    for person in range(20):
        for k in range(1, 4):
            _touch(tmp_path / "photos" / "lfw" / f"Person_{person}_Name_{k:04d}.jpg")
    for i in range(20):
        _touch(tmp_path / "photos" / "utk" / f"25_1_0_2017011{i:02d}1234567.jpg.chip.jpg")
    for i in range(40):  # a counter shared by the whole folder is not a person
        _touch(tmp_path / "ffhq" / f"ffhq_{i}.png")
    reals, _, _ = data_splits(
        DataSection(real_dirs=[tmp_path / "photos", tmp_path / "ffhq"], group_by="person")
    )
    assert len({s for s, paths in reals.files.items() for p in paths if p.parent.name == "ffhq"}) > 1
    where: dict[str, set[str]] = {}
    for split, paths in reals.files.items():
        for p in paths:
            if p.parent.name != "ffhq":
                where.setdefault(p.name.rsplit("_", 1)[0] if "lfw" in str(p) else p.name, set()).add(split)
    assert all(len(splits) == 1 for splits in where.values())
    assert len(where) == 40  # 20 people, and 20 photos whose long timestamps are not photo numbers
    assert len({s for splits in where.values() for s in splits}) > 1
