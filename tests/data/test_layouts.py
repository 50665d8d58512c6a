from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakelens.data.layouts import parse_layout
from fakelens.errors import FakelensError


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def _by_id(items):
    return {it.video_id: it for it in items}


def _ffpp_tree(root: Path) -> None:
    _touch(
        root,
        "original_sequences/youtube/c23/videos/071.mp4",
        "original_sequences/youtube/c23/videos/054.mp4",
        "original_sequences/youtube/c23/videos/000.mp4",
        "original_sequences/youtube/c40/videos/071.mp4",
        "original_sequences/actors/c23/videos/01__kitchen_pan.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/071_054.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/054_071.mp4",
        "manipulated_sequences/Deepfakes/masks/videos/071_054.mp4",
        "manipulated_sequences/Face2Face/c23/videos/071_054.mp4",
        "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__outside_talking__YVGY8LOK.mp4",
    )
    (root / "original_sequences/youtube/c23/frames/003").mkdir(parents=True)
    _touch(root, "original_sequences/youtube/c23/frames/003/0000.png")


def test_ffpp_official_splits_unique_ids_and_masks(tmp_path):
    _ffpp_tree(tmp_path)
    splits = tmp_path / "splits"
    splits.mkdir()
    for name, pairs in {"train": [["071", "054"]], "val": [["000", "999"]], "test": [["003", "004"]]}.items():
        (splits / f"{name}.json").write_text(json.dumps(pairs))
    items = _by_id(parse_layout(tmp_path, "ffpp"))
    assert set(items) == {
        "ffpp/original/c23/071",
        "ffpp/original/c23/054",
        "ffpp/original/c23/000",
        "ffpp/original/c23/003",
        "ffpp/Deepfakes/c23/071_054",
        "ffpp/Deepfakes/c23/054_071",
        "ffpp/Face2Face/c23/071_054",
        "dfd/original/c23/01__kitchen_pan",
        "dfd/DeepFakeDetection/c23/01_02__outside_talking__YVGY8LOK",
    }
    # an original and the fakes of its pair share the pair's split; the same name in two methods stays two videos
    assert {items[v].split for v in items if "071" in v or "054" in v} == {"train"}
    assert items["ffpp/original/c23/000"].split == "val"
    assert items["ffpp/original/c23/003"].source.is_dir()  # frames folder accepted
    assert items["ffpp/original/c23/003"].split == "test"
    assert items["dfd/DeepFakeDetection/c23/01_02__outside_talking__YVGY8LOK"].split == "test"
    df = items["ffpp/Deepfakes/c23/071_054"]
    assert (df.label, df.method, df.compression) == (1, "Deepfakes", "c23")
    assert df.mask == tmp_path / "manipulated_sequences/Deepfakes/masks/videos/071_054.mp4"
    assert items["ffpp/Face2Face/c23/071_054"].mask is None
    assert items["ffpp/original/c23/071"].label == 0
    c40 = parse_layout(tmp_path, "ffpp", compression="c40")
    assert [it.video_id for it in c40] == ["ffpp/original/c40/071"]


def test_ffpp_without_split_files_links_pairs(tmp_path):
    _ffpp_tree(tmp_path)
    items = _by_id(parse_layout(tmp_path, "ffpp"))
    pair = {items[v].split for v in items if v.startswith("ffpp/") and ("071" in v or "054" in v)}
    assert len(pair) == 1
    with pytest.raises(FakelensError, match="train.json"):
        parse_layout(tmp_path, "ffpp", splits_dir=tmp_path / "nowhere")
    with pytest.raises(FakelensError, match="no raw videos; found c23, c40"):
        parse_layout(tmp_path, "ffpp", compression="raw")


def test_celebdf_test_list_and_identity_split(tmp_path):
    names = [f"Celeb-real/id{i}_000{j}.mp4" for i in range(6) for j in range(2)]
    names += [f"Celeb-synthesis/id{i}_id{(i + 1) % 6}_000{j}.mp4" for i in range(6) for j in range(2)]
    names += ["YouTube-real/00170.mp4", "YouTube-real/00171.mp4"]
    _touch(tmp_path, *names)
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n1 Celeb-real/id0_0000.mp4\n"
    )
    items = _by_id(parse_layout(tmp_path, "celebdf"))
    assert len(items) == 26
    assert items["celebdf/YouTube-real/00170"].split == "test"
    assert items["celebdf/YouTube-real/00170"].label == 0
    assert items["celebdf/Celeb-synthesis/id0_id1_0000"].split == "test"
    assert items["celebdf/Celeb-synthesis/id0_id1_0000"].label == 1
    rest = [it for it in items.values() if it.split != "test"]
    assert {it.split for it in rest} <= {"train", "val"}
    for i in range(1, 6):  # one identity (and the fakes made on its videos) never spans two splits
        assert len({it.split for it in rest if it.source.stem.startswith(f"id{i}_")}) == 1
    (tmp_path / "List_of_testing_videos.txt").write_text("0 YouTube-real/00170.mp4\n")
    with pytest.raises(FakelensError, match="listed as fake but sits in YouTube-real"):
        parse_layout(tmp_path, "celebdf")


def test_dfdc_metadata_and_labels_csv(tmp_path):
    _touch(tmp_path, "part0/fake/aaa.mp4", "part0/bbb.mp4", "part0/ccc.mp4", "test/ddd.mp4", "test/eee.mp4")
    meta = {
        "aaa.mp4": {"label": "FAKE", "split": "train", "original": "bbb.mp4"},
        "bbb.mp4": {"label": "REAL", "split": "train", "original": None},
        "ccc.mp4": {"label": "FAKE", "original": "bbb.mp4"},
        "zzz.mp4": {"label": "REAL"},  # listed but not downloaded
    }
    (tmp_path / "part0/metadata.json").write_text(json.dumps(meta))
    (tmp_path / "test/labels.csv").write_text("filename,label\nddd.mp4,1\neee.mp4,0\n")
    notes: list[str] = []
    items = _by_id(parse_layout(tmp_path, "dfdc", notes=notes))
    assert set(items) == {"dfdc/aaa", "dfdc/bbb", "dfdc/ccc", "dfdc/ddd", "dfdc/eee"}
    from fakelens.data.splits import split_of

    # "train" in metadata.json: train or val (a val split carved by original video), never test
    assert items["dfdc/aaa"].label == 1 and items["dfdc/aaa"].split == items["dfdc/bbb"].split
    assert items["dfdc/bbb"].split == split_of("dfdc:bbb", test=0.0) and items["dfdc/bbb"].label == 0
    assert items["dfdc/ccc"].split == split_of("dfdc:bbb")  # no split given: a fake follows its original
    assert (items["dfdc/ddd"].label, items["dfdc/ddd"].split) == (1, "test")
    assert (items["dfdc/eee"].label, items["dfdc/eee"].split) == (0, "test")
    assert any("1 listed file" in n for n in notes)


def test_df40_methods_domains_and_frames_folders(tmp_path):
    _touch(
        tmp_path,
        "simswap/ff/frames/000_003/000.png",
        "simswap/ff/frames/000_003/001.png",
        "simswap/cdf/test/id0_id1_0000.mp4",
        "blendface/ff/frames/000_003/000.png",
        "stylegan3/ff/a.png",
        "stylegan3/ff/b.png",
        "real/ff/frames/000/000.png",
    )
    items = _by_id(parse_layout(tmp_path, "df40"))
    assert set(items) == {
        "df40/simswap/ff/frames/000_003",
        "df40/simswap/cdf/test/id0_id1_0000",
        "df40/blendface/ff/frames/000_003",
        "df40/stylegan3/ff/a",
        "df40/stylegan3/ff/b",
        "df40/real/ff/frames/000",
    }
    sw = items["df40/simswap/ff/frames/000_003"]
    assert (sw.label, sw.method, sw.dataset, sw.source.is_dir()) == (1, "simswap", "df40-ff", True)
    assert items["df40/simswap/cdf/test/id0_id1_0000"].split == "test"
    assert items["df40/simswap/cdf/test/id0_id1_0000"].dataset == "df40-cdf"
    assert items["df40/real/ff/frames/000"].label == 0
    # the same source video shares a split across methods and with its real original
    assert len({items[v].split for v in items if "frames/000" in v}) == 1
    assert not items["df40/stylegan3/ff/a"].source.is_dir()  # photos in a domain folder stay photos


def test_generic_photos_frames_folders_and_split_parts(tmp_path):
    root = tmp_path / "mine"
    _touch(
        root,
        "real/p1.jpg",
        "real/p2.jpg",
        "real/vid/0001.png",
        "real/vid/0002.png",
        "fake/faceswap/clip.mp4",
        "fake/faceswap/test/clip2.mp4",
        "fake/gan/x.png",
        "fake/loose.mp4",
    )
    items = _by_id(parse_layout(root, "generic"))
    assert set(items) == {
        "mine/real/p1",
        "mine/real/p2",
        "mine/real/vid",
        "mine/fake/faceswap/clip",
        "mine/fake/faceswap/test/clip2",
        "mine/fake/gan/x",
        "mine/fake/loose",
    }
    assert items["mine/real/vid"].source.is_dir()
    assert items["mine/fake/faceswap/test/clip2"].split == "test"
    assert (items["mine/fake/faceswap/clip"].method, items["mine/fake/faceswap/clip"].label) == (
        "faceswap",
        1,
    )
    assert items["mine/fake/loose"].method == "fake"
    assert items["mine/real/p1"].method == "real" and items["mine/real/p1"].dataset == "mine"


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(FakelensError, match="unknown layout 'nope'"):
        parse_layout(tmp_path, "nope")
    with pytest.raises(FakelensError, match="no such folder"):
        parse_layout(tmp_path / "missing", "generic")
    _touch(tmp_path, "real/notes.txt")
    for layout in ("ffpp", "celebdf", "dfdc", "df40", "generic"):
        with pytest.raises(FakelensError, match="no media found") as exc:
            parse_layout(tmp_path, layout)
        assert "\n" not in str(exc.value) and str(tmp_path) in str(exc.value)


def test_dfdc_training_parts_get_a_validation_split_grouped_by_original(tmp_path):
    """DFDC marks every training video "train": without a carved val split there would be nothing
    of the training domain to select a checkpoint on."""
    meta = {}
    for i in range(40):
        meta[f"r{i:02d}.mp4"] = {"label": "REAL", "split": "train"}
        meta[f"f{i:02d}.mp4"] = {"label": "FAKE", "split": "train", "original": f"r{i:02d}.mp4"}
    _touch(tmp_path, *(f"part/{name}" for name in meta))
    (tmp_path / "part/metadata.json").write_text(json.dumps(meta))
    items = _by_id(parse_layout(tmp_path, "dfdc"))
    assert {it.split for it in items.values()} == {"train", "val"}
    for i in range(40):
        assert items[f"dfdc/f{i:02d}"].split == items[f"dfdc/r{i:02d}"].split


def test_df40_ff_domain_follows_official_ffpp_pairs(tmp_path):
    _touch(
        tmp_path,
        "simswap/ff/000_003.mp4",
        "simswap/ff/003_000.mp4",
        "real/ff/003.mp4",
        "real/ff/000.mp4",
        "simswap/cdf/id0_id1_0000.mp4",
    )
    splits = tmp_path / "ffpp-splits"
    splits.mkdir()
    for name, pairs in {"train": [["001", "002"]], "val": [["004", "005"]], "test": [["000", "003"]]}.items():
        (splits / f"{name}.json").write_text(json.dumps(pairs))
    items = _by_id(parse_layout(tmp_path, "df40", splits_dir=splits))
    ff = [it for it in items.values() if it.dataset == "df40-ff"]
    assert len(ff) == 4 and {it.split for it in ff} == {"test"}  # 003's face and 003's video: one split
    with pytest.raises(FakelensError, match="train.json"):
        parse_layout(tmp_path, "df40", splits_dir=tmp_path / "nowhere")


def test_ffpp_split_files_must_be_pair_lists_and_disjoint(tmp_path):
    _ffpp_tree(tmp_path)
    splits = tmp_path / "splits"
    splits.mkdir()
    files = {"train": [["071", "054"]], "val": [["000", "999"]], "test": [["003", "071"]]}
    for name, pairs in files.items():
        (splits / f"{name}.json").write_text(json.dumps(pairs))
    with pytest.raises(FakelensError, match="video '071' is listed in both train.json and test.json"):
        parse_layout(tmp_path, "ffpp")
    (splits / "test.json").write_text(json.dumps({"003": "004"}))  # iterating a dict would "work"
    with pytest.raises(FakelensError, match="expected a JSON list of id pairs"):
        parse_layout(tmp_path, "ffpp")
