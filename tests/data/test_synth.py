from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.data.splits import split_of
from fakelens.data.synth import synthesize
from fakelens.errors import FakelensError
from fakelens.evaluate.manifest import read_manifest
from fakelens.faces import FaceConfig
from media_helpers import write_video


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, astronaut, demo_dir):
    """Four variants of the astronaut photo (named so they share a split) and the demo clip."""
    folder = tmp_path_factory.mktemp("reals")
    names = [n for n in (f"face{i}.png" for i in range(100)) if split_of(n) == "train"][:4]
    h, w = astronaut.shape[:2]
    variants = [
        astronaut,
        astronaut[:, ::-1],
        cv2.warpAffine(
            astronaut, np.float32([[0.9, 0, 30], [0, 0.9, 20]]), (w, h), borderMode=cv2.BORDER_REFLECT
        ),
        np.clip(astronaut.astype(int) + 25, 0, 255).astype(np.uint8),
    ]
    for name, img in zip(names, variants, strict=True):
        cv2.imwrite(str(folder / name), np.ascontiguousarray(img[..., ::-1]))
    shutil.copy(demo_dir / "astronaut-pan.mp4", folder / "pan.mp4")
    return folder


@pytest.fixture(scope="module")
def dataset(real_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synthesize(real_dir, out, seed=3, video_frames=4, progress=False)


def test_manifest_lists_every_png_with_labels_methods_and_masks(dataset):
    lines = [json.loads(s) for s in dataset.manifest.read_text().splitlines()]
    assert {"path", "label", "method", "video_id", "split", "mask", "sources"} <= set(lines[0])
    by_method = {}
    for row in lines:
        assert (dataset.out / row["path"]).is_file()
        by_method.setdefault((row["label"], row["method"]), []).append(row)
        if row["label"] == "fake":
            mask = cv2.imread(str(dataset.out / row["mask"]), cv2.IMREAD_GRAYSCALE)
            assert mask is not None and mask.max() >= 60  # not empty (SBI's weakest blend is 0.25)
    for method in ("sbi", "faceswap", "freda", "hfmask"):
        assert len(by_method[("fake", method)]) == 4, method  # one per face (per_face=1)
    swap = by_method[("fake", "faceswap")][0]
    assert len(swap["sources"]) == 2 and swap["sources"][0] != swap["sources"][1]  # two different people
    vb = by_method[("fake", "vblend")]
    assert len(vb) == 4 and len({r["video_id"] for r in vb}) == 1  # one fake clip, 4 frames
    assert len(by_method[("real", "hfmask")]) == 4  # ACMF representations of the reals too
    assert {r["split"] for r in lines} <= {"train", "val", "test"}
    assert {r["aligned"] for r in lines} == {FaceConfig().fingerprint()}  # every PNG is an aligned crop
    # reals and fakes never share a video id (video-level metrics would mix labels)
    ids = {lab: {r["video_id"] for r in lines if r["label"] == lab} for lab in ("real", "fake")}
    assert not ids["real"] & ids["fake"]
    dataset_name = lines[0]["dataset"]
    assert all(r["video_id"].startswith(f"{dataset_name}/") for r in lines)  # unique across synth sets
    reals = {r["video_id"] for r in lines if r["label"] == "real" and r["method"] is None}
    assert f"{dataset_name}/real/pan.mp4" in reals  # the clip's frames: one video, named by its file
    rows = read_manifest(dataset.manifest)
    assert len(rows) == len(lines) and sum(r.label for r in rows) == sum(
        len(v) for (lab, _), v in by_method.items() if lab == "fake"
    )
    assert dataset.counts["vblend"] == 4 and any("vblend" in n for n in dataset.notes)


def test_config_is_written_and_seed_fixes_the_output(dataset, real_dir, tmp_path):
    cfg = json.loads((dataset.out / "synth-config.json").read_text())
    assert cfg["seed"] == 3 and cfg["methods"][0] == "sbi" and cfg["summary"]["counts"] == dataset.counts
    runs = [
        synthesize(real_dir, tmp_path / str(i), methods=["sbi", "faceswap"], seed=s, limit=2, progress=False)
        for i, s in enumerate((3, 3, 4))
    ]
    files = sorted(p.relative_to(runs[0].out) for p in runs[0].out.rglob("*.png"))
    assert len(files) >= 6  # 2 reals, 2 sbi, 2 swaps (+ masks)
    for f in files:
        assert (runs[0].out / f).read_bytes() == (runs[1].out / f).read_bytes()
    sbi = next(f for f in files if f.parts[:2] == ("fake", "sbi"))
    assert (runs[0].out / sbi).read_bytes() != (runs[2].out / sbi).read_bytes()
    # the two-file run made the same SBI fake as the full run: adding files does not change it
    assert (runs[0].out / sbi).read_bytes() == (dataset.out / sbi).read_bytes()


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(FakelensError, match="no such folder"):
        synthesize(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FakelensError, match="no images or videos"):
        synthesize(tmp_path / "empty", tmp_path / "out")
    cv2.imwrite(str(tmp_path / "empty" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FakelensError, match="no videos found"):
        synthesize(tmp_path / "empty", tmp_path / "out", methods=["vblend"])
    with pytest.raises(FakelensError, match="unknown method 'morph'"):
        synthesize(tmp_path / "empty", tmp_path / "out", methods=["sbi", "morph"])


def test_cli_writes_a_dataset(real_dir, tmp_path):
    res = CliRunner().invoke(
        app, ["synth", str(real_dir), "--out", str(tmp_path / "o"), "--methods", "sbi", "--limit", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "sbi: 2" in res.stdout and (tmp_path / "o" / "manifest.jsonl").is_file()
    res = CliRunner().invoke(app, ["synth", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no such folder" in res.output and len(res.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def talking_dir(tmp_path_factory, astronaut, face_pipeline):
    """Two tiny clips of one 'person' (one folder: one split) whose mouth opens and closes."""
    from fakelens.faces.landmarks import landmarks68
    from fakelens.forge.faceswap import warp_face

    img = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    face = face_pipeline.extract(img)[0]
    inv = cv2.invertAffineTransform(face.matrix)
    lm_crop = landmarks68(face.crop, face_pipeline.config.crop)
    lm = (lm_crop @ inv[:, :2].T + inv[:, 2]).astype(np.float32)
    lower = np.r_[5:12, 55:60, 64:68]
    folder = tmp_path_factory.mktemp("talking") / "person"
    folder.mkdir()
    for name, amounts in (("a", (0, 3, 6, 9, 6, 3, 0, 3)), ("b", (0, 2, 5, 2, 0, 4, 7, 4))):
        frames = []
        for amount in amounts:
            moved = lm.copy()
            moved[lower, 1] += amount
            frames.append(warp_face(img, lm, moved, img.shape[:2]))
        write_video(folder / f"{name}.mp4", frames)
    return folder.parent


def test_lipsync_and_animate_clips_from_videos(talking_dir, tmp_path):
    s = synthesize(
        talking_dir, tmp_path / "o", methods=["lipsync", "animate"], video_frames=4, progress=False
    )
    rows = [json.loads(line) for line in s.manifest.read_text().splitlines()]
    reals = {r["path"]: r for r in rows if r["label"] == "real"}
    assert len(reals) == 8 and s.counts["lipsync"] == 8  # 2 clips x 4 frames, each frame re-synthesised
    lip = [r for r in rows if r["method"] == "lipsync"]
    anim = [r for r in rows if r["method"] == "animate"]
    assert {r["video_id"] for r in lip} == {"talking0/lipsync/person__a_0", "talking0/lipsync/person__b_0"}
    assert 2 <= len(anim) <= 6 and len({r["video_id"] for r in anim}) == 2  # frame 0 of each is the source
    assert all(r["label"] == "fake" and (s.out / r["mask"]).is_file() for r in lip + anim)
    assert not {r["video_id"] for r in lip + anim} & {r["video_id"] for r in reals.values()}
    assert {r["group"] for r in rows} == {"person"}  # the clips' folder: recipes can exclude it
    assert all(r["source_groups"] == ["person"] for r in anim)  # the driving clip's group is listed too

    def load(rel):
        return cv2.imread(str(s.out / rel), cv2.IMREAD_UNCHANGED)

    for r in lip:  # the fake is its own real frame outside the mask, and the mask is the lower face
        real = load(r["path"].replace("fake/lipsync/", "real/").replace("_0_f", "_f"))
        fake, mask = load(r["path"]), load(r["mask"])
        assert mask.max() == 255 and not mask[: mask.shape[0] // 2].any()
        assert np.array_equal(fake[mask == 0], real[mask == 0]) and not np.array_equal(fake, real)
    for r in anim:  # a clip's first frame, driven by the other clip of its split
        me, other = (f"person/{c}.mp4" for c in ("ab" if "person__a" in r["video_id"] else "ba"))
        assert r["sources"] == [me, other]
        first = min(p for p in reals if p.startswith(f"real/{me[:-4].replace('/', '__')}_f"))
        fake, mask, real = load(r["path"]), load(r["mask"]), load(first)
        assert np.array_equal(fake[mask == 0], real[mask == 0]) and (mask == 255).sum() > 100

    res = CliRunner().invoke(
        app,
        [
            "synth",
            str(talking_dir),
            "-o",
            str(tmp_path / "c"),
            "--methods",
            "lipsync,animate",
            "--frames",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "lipsync: 6" in res.stdout and "animate:" in res.stdout


def test_talking_heads_re_render_every_animated_frame(talking_dir, tmp_path):
    both = synthesize(
        talking_dir, tmp_path / "b", methods=["animate", "talkinghead"], video_frames=4, progress=False
    )
    alone = synthesize(talking_dir, tmp_path / "a", methods=["animate"], video_frames=4, progress=False)
    rows = [json.loads(line) for line in both.manifest.read_text().splitlines()]
    heads = [r for r in rows if r["method"] == "talkinghead"]
    assert len(heads) == 8  # every driven frame, the undriven first one too: each is redrawn
    assert {r["video_id"] for r in heads} == {
        "talking0/talkinghead/person__a_0",
        "talking0/talkinghead/person__b_0",
    }
    assert all(r["sources"][0] != r["sources"][1] and r["source_groups"] == ["person"] for r in heads)
    for r in heads:
        animated = both.out / r["path"].replace("talkinghead", "animate")
        fake = cv2.imread(str(both.out / r["path"]))
        assert (both.out / r["mask"]).is_file() and fake is not None
        if animated.is_file():  # the re-rendered frame differs from the animated one it was made from
            assert np.abs(fake.astype(int) - cv2.imread(str(animated)).astype(int)).mean() > 0.5
    anim_alone = sorted(p.name for p in (alone.out / "fake" / "animate").iterdir())
    assert anim_alone == sorted(p.name for p in (both.out / "fake" / "animate").iterdir())
    for name in anim_alone:  # adding talking heads leaves the animated fakes as they were
        a, b = (cv2.imread(str(o / "fake" / "animate" / name)) for o in (alone.out, both.out))
        assert np.array_equal(a, b)
