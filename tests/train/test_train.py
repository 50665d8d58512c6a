from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from fakelens.data.facecache import build_faceset
from fakelens.data.sbi_dataset import SBIPairs
from fakelens.errors import ConfigError
from fakelens.faces import FaceConfig
from fakelens.models.detector import Preprocess, load_detector
from fakelens.train.config import TrainConfig
from fakelens.train.loop import train
from train_helpers import write_config, write_reals


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory, astronaut):
    return write_reals(tmp_path_factory.mktemp("reals"), astronaut)


def test_train_writes_checkpoint_config_and_metrics_then_resumes(tmp_path, real_dir):
    recipe = write_config(tmp_path, real_dir)
    cfg = TrainConfig.from_yaml(recipe)
    folder = train(cfg)
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file() and (run / "splits.json").is_file()
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["architecture"] == "tiny-cnn" and meta["face"]["crop"]["size"] == 96
    assert meta["training"]["skipped"] == 1  # the faceless image is counted
    det = load_detector(folder)
    assert det.face == FaceConfig.from_dict(meta["face"])  # scan will crop exactly as training did
    # resume: continue to epoch 3 from last/, keeping the history
    cfg3 = TrainConfig.from_yaml(recipe, {"train.epochs": 3})
    train(cfg3, resume=True)
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_training_is_seeded(tmp_path, real_dir):
    losses = []
    for run in ("a", "b"):
        recipe = write_config(tmp_path / run, real_dir, epochs=1)
        train(TrainConfig.from_yaml(recipe))
        losses.append(json.loads((tmp_path / run / "run" / "metrics.jsonl").read_text())["train_loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_sbi_pairs_are_deterministic_per_epoch(real_dir, tmp_path):
    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:3], FaceConfig(), tmp_path)
    ds = SBIPairs(faces, Preprocess(64), seed=1)
    a, b = ds[0], ds[0]
    assert a["index"].tolist() == [0, 0] and a["kind"].tolist() == [0, 1]
    assert a["variant"].tolist() == [-1, -1]  # drawn afresh: no fixed fake
    assert a["image"].shape == (2, 3, 64, 64) and a["label"].tolist() == [0.0, 1.0]
    assert np.array_equal(a["image"].numpy(), b["image"].numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[0]["image"].numpy(), a["image"].numpy())


def test_config_errors_are_one_line(tmp_path, real_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {real_dirs: [x]}\ntrain: {epochs: 0}\n")
    with pytest.raises(ConfigError, match=r"train\.epochs") as err:
        TrainConfig.from_yaml(bad)
    assert "\n" not in str(err.value)
    bad.write_text("data: {real_dirs: [x]}\nmodel: {colour: red}\n")
    with pytest.raises(ConfigError, match="model.colour"):
        TrainConfig.from_yaml(bad)
    with pytest.raises(ConfigError, match="no such file"):
        TrainConfig.from_yaml(tmp_path / "none.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    recipe = write_config(tmp_path, empty)
    with pytest.raises(ConfigError, match="no images found"):
        train(TrainConfig.from_yaml(recipe))


def test_resume_continues_exactly_where_an_interrupted_run_stopped(tmp_path, real_dir):
    from safetensors.torch import load_file

    straight = write_config(tmp_path / "straight", real_dir, epochs=2)
    train(TrainConfig.from_yaml(straight))
    # the same recipe, cut after its first epoch by the time budget, then resumed
    cut = write_config(tmp_path / "cut", real_dir, epochs=2, max_minutes=1e-6)
    train(TrainConfig.from_yaml(cut))
    assert len((tmp_path / "cut" / "run" / "metrics.jsonl").read_text().splitlines()) == 1
    resumed = write_config(tmp_path / "cut", real_dir, epochs=2)
    train(TrainConfig.from_yaml(resumed), resume=True)
    a = load_file(str(tmp_path / "straight" / "run" / "last" / "weights.safetensors"))
    b = load_file(str(tmp_path / "cut" / "run" / "last" / "weights.safetensors"))
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a)


def test_train_from_a_manifest_uses_its_train_and_val_rows_fakes_included(tmp_path, real_dir, fake_dir):
    """Label-1 rows are ready-made fakes (a protocol fold's forgeries), not dropped; rows of other
    splits are never read."""
    files = sorted(real_dir.glob("face_*.png"))
    gans = sorted(fake_dir.glob("*.png"))
    rows = [{"path": str(p), "label": 0, "split": "train" if i < 8 else "val"} for i, p in enumerate(files)]
    rows += [
        {"path": str(p), "label": 1, "split": "train" if i < 3 else "val"} for i, p in enumerate(gans[:5])
    ]
    rows += [{"path": "held-out.png", "label": 0, "split": "test"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = write_config(tmp_path, real_dir, epochs=1)
    overrides = {"data.real_dirs": [], "data.manifest": str(manifest)}
    cfg = TrainConfig.from_yaml(recipe, overrides)
    folder = train(cfg)
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    assert len(splits["reals"]["train"]) == 8 and len(splits["reals"]["val"]) == 4
    assert splits["fakes"]["train"] == [str(p) for p in gans[:3]] and len(splits["fakes"]["val"]) == 2
    assert json.loads((folder / "config.json").read_text())["training"]["train_ready_made_fakes"] == 3
    with pytest.raises(ConfigError, match="real_dirs or a manifest"):
        TrainConfig.from_yaml(recipe, {"data.real_dirs": []})


def test_aligned_crops_are_used_as_they_are(real_dir, tmp_path):
    """prepare/synth crops skip detection (noise has no face to find, yet is kept pixel for pixel);
    a file marked aligned but of the wrong size is reported, not warped."""
    face = FaceConfig()
    size = face.crop.size
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), np.uint8)
    crop, small = tmp_path / "crop.png", tmp_path / "small.png"
    cv2.imwrite(str(crop), noise[..., ::-1])
    cv2.imwrite(str(small), noise[:100, :100])
    photo = sorted(real_dir.glob("face_*.png"))[0]
    fs = build_faceset([crop, small, photo], face, aligned={crop, small})
    assert fs.paths == [str(crop), str(photo)] and np.array_equal(fs.crops[0], noise)
    assert fs.skipped[0][0] == str(small) and "not 224" in fs.skipped[0][1]
    assert build_faceset([crop], face).skipped == [(str(crop), "no face found")]


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory, real_dir):
    """'GAN' faces: the real photos halved and blown up again with nearest neighbours."""
    d = tmp_path_factory.mktemp("fakes")
    for p in sorted(real_dir.glob("face_*.png")):
        img = cv2.imread(str(p))
        small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        cv2.imwrite(
            str(d / f"gan_{p.name}"), cv2.resize(small, img.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        )
    return d


def test_ready_made_fakes_train_npr_and_the_checkpoint_is_calibrated(tmp_path, real_dir, fake_dir):
    recipe = write_config(tmp_path, real_dir, epochs=1)
    overrides = {
        "model.architecture": "npr",
        "model.kwargs": {"width": 0.25},
        "data.sbi": False,
        "data.fake_dirs": [str(fake_dir)],
        "data.fake_test_fraction": 0.2,
        "data.augment": "flip",
    }
    folder = train(TrainConfig.from_yaml(recipe, overrides))
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    fakes = [set(splits["fakes"][k]) for k in ("train", "val", "dev", "final")]
    assert all(fakes[:2]) and sum(map(len, fakes)) == len(set().union(*fakes))  # disjoint
    meta = json.loads((folder / "config.json").read_text())
    assert meta["model_kwargs"] == {"drop_rate": 0.0, "width": 0.25}
    assert meta["training"]["train_ready_made_fakes"] == len(fakes[0])
    assert meta["calibration"]["temperature"] > 0 and "ece_after" in meta["calibration"]
    assert load_detector(folder, backend="torch").model.scale == pytest.approx(meta["calibration"]["scale"])
    with pytest.raises(ConfigError, match="with sbi: false"):
        TrainConfig.from_yaml(recipe, {"data.sbi": False})


def test_ensemble_stacks_members_on_validation_data_and_exports(tmp_path, real_dir, fake_dir):
    from typer.testing import CliRunner

    from fakelens.cli import app

    recipe = write_config(tmp_path / "tiny", real_dir, epochs=1)
    tiny = train(TrainConfig.from_yaml(recipe))
    npr_over = {
        "model.architecture": "npr",
        "model.kwargs": {"width": 0.25},
        "out_dir": str(tmp_path / "npr"),
    }
    npr = train(TrainConfig.from_yaml(write_config(tmp_path / "n", real_dir, epochs=1), npr_over))
    data = {
        "real_dirs": [str(real_dir)],
        "fake_dirs": [str(fake_dir)],
        "val_fraction": 0.3,
        "test_fraction": 0.0,
    }
    data |= {"fake_test_fraction": 0.2, "cache_dir": str(tmp_path / "cache")}
    cfg = {"name": "ens", "out_dir": "ens", "members": [str(tiny), str(npr)], "mode": "stack", "data": data}
    (tmp_path / "ens.yaml").write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["ensemble", str(tmp_path / "ens.yaml")])
    assert result.exit_code == 0, result.output
    assert "validation AUC" in result.output
    folder = tmp_path / "ens" / "model"
    meta = json.loads((folder / "config.json").read_text())
    assert meta["architecture"] == "ensemble" and len(meta["ensemble"]["weights"]) == 2
    det = load_detector(folder, backend="torch")
    assert det.model.weights.tolist() == pytest.approx(meta["ensemble"]["weights"], abs=1e-6)
    crops = [cv2.imread(str(p))[..., ::-1] for p in sorted(real_dir.glob("face_*.png"))[:2]]
    crops = [cv2.resize(c, (96, 96)) for c in crops]
    onnx = load_detector(folder, backend="onnx")
    assert np.allclose(onnx.predict_proba(crops), det.predict_proba(crops), atol=1e-4)
    cfg["members"] = [str(tiny)]
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["ensemble", str(tmp_path / "one.yaml")])
    assert result.exit_code != 0 and "at least two" in result.output


def test_acmf_method_takes_a_stage1_teacher_records_itself_and_resumes_it(tmp_path, real_dir):
    from safetensors.torch import load_file

    recipe = write_config(tmp_path, real_dir, epochs=2)
    folder = train(TrainConfig.from_yaml(recipe, {"method.name": "acmf", "method.stage1_epochs": 1}))
    state = load_file(str(tmp_path / "run" / "last" / "method.safetensors"))  # the teacher, for a resume
    assert state and all(k.startswith("teacher.") for k in state)
    meta = json.loads((folder / "config.json").read_text())
    assert meta["training"]["method"]["name"] == "acmf" and meta["training"]["method"]["stage1_epochs"] == 1
    assert meta["training"]["recipe"]["method"]["radius"] == 5  # the recipe records the defaults too


def test_easy_items_get_freda_fakes(real_dir, tmp_path):
    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:2], FaceConfig(), tmp_path)
    ds = SBIPairs(faces, Preprocess(64), seed=1, augment=False)
    plain = ds.item(0)[1]
    ds.plan(freda={0})
    mixed = ds.item(0)[1]
    assert mixed.shape == plain.shape and not np.array_equal(mixed, plain)
    assert np.array_equal(ds.item(1)[1], SBIPairs(faces, Preprocess(64), seed=1, augment=False).item(1)[1])


def test_lsda_method_trains_and_records_itself(tmp_path, real_dir):
    recipe = write_config(tmp_path, real_dir, epochs=1)
    folder = train(TrainConfig.from_yaml(recipe, {"method.name": "lsda"}))
    meta = json.loads((folder / "config.json").read_text())
    assert meta["training"]["method"] == {
        "name": "lsda",
        "weight": 0.5,
        "noise": 0.5,
        "centroid_momentum": 0.9,
    }


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"method.name": "fidelity"}, "fidelity"),
        (
            {
                "method.name": "hierarchical",
                "model.architecture": "hfc-mffd",
                "model.kwargs": {"input_size": 64, "dim": 32},
            },
            "hierarchical",
        ),
    ],
)
def test_fidelity_and_hierarchical_methods_train(tmp_path, real_dir, fake_dir, overrides, name):
    recipe = write_config(tmp_path, real_dir, epochs=1)
    folder = train(
        TrainConfig.from_yaml(
            recipe, {"data.fake_dirs": [str(fake_dir)], "data.fake_test_fraction": 0.2, **overrides}
        )
    )
    meta = json.loads((folder / "config.json").read_text())
    assert meta["training"]["method"]["name"] == name
    assert len(load_detector(folder, backend="torch").predict_proba([np.zeros((96, 96, 3), np.uint8)])) == 1


def test_ready_made_fakes_are_paired_with_untouched_reals(real_dir, fake_dir, tmp_path):
    """SBI may colour-jitter the real it blends into; a GAN fake must meet the untouched real, or
    'jittered colours' would mean 'real' for every ready-made fake."""
    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:3], FaceConfig(), tmp_path)
    fakes = build_faceset(sorted(fake_dir.glob("*.png"))[:3], FaceConfig(), tmp_path)
    ds = SBIPairs(faces, Preprocess(64), seed=1, augment=False, fakes=fakes)
    assert ds.kinds == [0, 1, 0, 2]
    images = ds.item(0)
    assert np.array_equal(images[2], faces.crops[0]) and any(
        np.array_equal(images[3], f) for f in fakes.crops
    )
    item = ds[0]
    assert item["image"].shape[0] == 4 and item["label"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert item["kind"].tolist() == [0, 1, 0, 2] and item["index"].tolist() == [0, 0, 0, 0]
    for i in range(len(faces)):  # which ready-made fake each item holds, -1 elsewhere
        drawn = ds[i]["fake_index"].tolist()
        assert drawn[:3] == [-1, -1, -1] and np.array_equal(ds.item(i)[3], fakes.crops[drawn[3]])


def test_soft_reals_augmentation_softens_only_real_faces(real_dir, fake_dir, tmp_path):
    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:4], FaceConfig(), tmp_path)
    fakes = build_faceset(sorted(fake_dir.glob("*.png"))[:2], FaceConfig(), tmp_path)
    ds = SBIPairs(faces, Preprocess(64), seed=3, make_sbi=False, fakes=fakes, augment_kind="flip+soft-reals")
    softened = 0
    for i in range(len(faces)):
        real, fake = ds.item(i)
        assert any(
            np.array_equal(fake, f) or np.array_equal(fake, f[:, ::-1]) for f in fakes.crops
        )  # untouched
        softened += not any(np.array_equal(real, c) or np.array_equal(real, c[:, ::-1]) for c in faces.crops)
    assert softened >= 1  # seeded: the same faces are softened on every run


def test_warm_start_loads_every_weight_of_a_checkpoint_of_the_same_architecture(
    tmp_path, make_tiny_checkpoint
):
    """``model.init_from``: a photo-trained detector continued on video faces starts from its weights;
    another architecture is refused in one line."""
    import torch
    from safetensors.torch import load_file

    from fakelens.models import create_model
    from fakelens.train.loop import _warm_start

    folder = make_tiny_checkpoint(tmp_path / "ck", seed=3)
    torch.manual_seed(0)
    net = create_model("tiny-cnn")
    _warm_start(net, str(folder), "tiny-cnn")
    saved = load_file(str(folder / "weights.safetensors"))
    assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())
    with pytest.raises(ConfigError, match="is a 'tiny-cnn', not a 'npr'"):
        _warm_start(create_model("npr"), str(folder), "npr")


def test_warm_start_with_other_shapes_is_one_line(tmp_path):
    """Same architecture, other width: the keys match but the tensors do not."""
    from fakelens.models import create_model
    from fakelens.models.checkpoint import save_checkpoint
    from fakelens.train.loop import _warm_start

    folder = save_checkpoint(tmp_path / "npr", create_model("npr", width=0.5), {"architecture": "npr"})
    with pytest.raises(ConfigError, match="does not fit this model"):
        _warm_start(create_model("npr", width=1.0), str(folder), "npr")


def test_validation_families_name_each_image_s_forgery(real_dir, fake_dir, tmp_path):
    """What the ensemble's balance groups by: reals, SBI fakes and each ready-made fake's folder,
    and each image's source folder (its real face's, for a pair)."""
    from types import SimpleNamespace

    from fakelens.train.data import TrainingFaces, validation_images

    faces = build_faceset(sorted(real_dir.glob("face_*.png"))[:3], FaceConfig(), tmp_path)
    fakes = build_faceset(sorted(fake_dir.glob("*.png"))[:2], FaceConfig(), tmp_path)
    split = TrainingFaces(faces, faces, fakes, fakes)
    v = validation_images(split, SimpleNamespace(sbi=True), Preprocess(64), 0)
    assert len(v.x) == len(v.y) == len(v.families) == len(v.sources)
    assert set(v.families) == {"real", "self-blend", fake_dir.name}
    assert ((v.families == "real") == (v.y.numpy() == 0)).all()
    assert set(v.sources[v.families != fake_dir.name]) == {real_dir.name}
    v = validation_images(split, SimpleNamespace(sbi=False), Preprocess(64), 0)
    assert v.families.tolist() == ["real"] * 3 + [fake_dir.name] * 2
    assert v.sources.tolist() == [real_dir.name] * 3 + [fake_dir.name] * 2
