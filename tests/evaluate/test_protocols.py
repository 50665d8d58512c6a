"""Protocols: folds select the right rows, validation is always the training domain, leaks are errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.errors import ConfigError, FakelensError
from fakelens.evaluate.protocol_run import run_protocol
from fakelens.evaluate.protocols import ProtocolConfig, expand, family_of, load_rows, materialize


def _rows(dataset: str, methods: list[str], per_split: int = 2) -> list[dict]:
    rows = []
    for split in ("train", "val", "test"):
        for i in range(per_split):
            rows.append(
                _row(f"{dataset}/real/{split}{i}.png", 0, dataset, None, f"{dataset}/real/{split}{i}", split)
            )
            for m in methods:
                vid = f"{dataset}/{m}/{split}{i}"
                rows.append(_row(f"{dataset}/{m}/{split}{i}.png", 1, dataset, m, vid, split))
    return rows


def _row(path, label, dataset, method, video_id, split) -> dict:
    return {
        "path": path,
        "label": label,
        "dataset": dataset,
        "method": method,
        "video_id": video_id,
        "split": split,
    }


def _manifest(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tmp_path, rows, **kw) -> ProtocolConfig:
    return ProtocolConfig(name="t", manifests=[_manifest(tmp_path, rows)], **kw)


def _read(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_cross_manipulation_leaves_each_method_out(tmp_path):
    cfg = _config(
        tmp_path, _rows("ffpp", ["DF", "F2F", "FS"]), kind="cross_manipulation", train_datasets=["ffpp"]
    )
    plans = materialize(cfg, tmp_path / "run")
    assert [p["fold"] for p in plans] == ["leave-out-DF", "leave-out-F2F", "leave-out-FS"]
    fold = plans[0]
    train, val = _read(fold["train"]), _read(fold["val"])
    assert {r["method"] for r in train if r["label"]} == {"F2F", "FS"}
    assert {r["split"] for r in train} == {"train"} and {r["split"] for r in val} == {"val"}
    assert {r["method"] for r in val if r["label"]} == {"F2F", "FS"}  # validation = training domain
    unseen = _read(fold["tests"]["DF (unseen)"]["manifest"])
    assert {r["method"] for r in unseen if r["label"]} == {"DF"}
    assert {r["split"] for r in unseen} == {"test"}
    assert fold["tests"]["DF (unseen)"]["counts"] == {"real": 2, "fake": 2}


def test_cross_dataset_tests_the_other_dataset_and_the_training_one(tmp_path):
    rows = _rows("ffpp", ["DF"]) + _rows("celebdf", ["synthesis"])
    cfg = _config(tmp_path, rows, kind="cross_dataset", train_datasets=["ffpp"], test_datasets=["celebdf"])
    (fold,) = expand(cfg, load_rows(cfg))
    assert set(fold.tests) == {"ffpp (within)", "celebdf"}
    plans = materialize(cfg, tmp_path / "run")
    train = _read(plans[0]["train"])
    assert {r["dataset"] for r in train} == {"ffpp"}
    assert {r["dataset"] for r in _read(plans[0]["tests"]["celebdf"]["manifest"])} == {"celebdf"}


def test_a_test_set_overlapping_training_is_an_error(tmp_path):
    tests = {"leaky": {"datasets": ["ffpp"], "splits": ["train", "test"]}}
    cfg = _config(tmp_path, _rows("ffpp", ["DF"]), kind="custom", train={"datasets": ["ffpp"]}, tests=tests)
    with pytest.raises(FakelensError, match="shares 4 file"):
        materialize(cfg, tmp_path / "run")


def test_one_class_or_empty_test_sets_are_one_line_errors(tmp_path):
    rows = [r for r in _rows("ffpp", ["DF"]) if not (r["split"] == "test" and r["label"] == 0)]
    cfg = _config(tmp_path, rows, kind="within_dataset", train_datasets=["ffpp"])
    with pytest.raises(FakelensError, match="only fakes") as info:
        materialize(cfg, tmp_path / "run")
    assert "\n" not in str(info.value)
    cfg = _config(
        tmp_path, _rows("ffpp", ["DF"]), kind="cross_dataset", train_datasets=["ffpp"], test_datasets=["x"]
    )
    with pytest.raises(FakelensError, match="has no rows"):
        materialize(cfg, tmp_path / "run")


def test_shared_video_ids_are_reported(tmp_path):
    rows = _rows("ffpp", ["DF", "FS"])
    for r in rows:  # the same source video in train and test: DeepfakeBench's folder-name grouping bug
        r["video_id"] = "000_003"
    cfg = _config(tmp_path, rows, kind="within_dataset", train_datasets=["ffpp"])
    (plan,) = materialize(cfg, tmp_path / "run")
    assert plan["warnings"] and "000_003" in plan["warnings"][0]


def test_df40_protocols(tmp_path):
    rows = _rows("df40-ff", ["simswap", "fomm", "StyleGAN2", "e4e"]) + _rows("df40-cdf", ["simswap", "fomm"])
    cfg = _config(tmp_path, rows, kind="df40_p1")
    (fold,) = expand(cfg, load_rows(cfg))
    assert fold.train.families == ["FS"]
    plans = materialize(cfg.model_copy(update={"kind": "df40_p1"}), tmp_path / "p1")
    assert {r["method"] for r in _read(plans[0]["train"]) if r["label"]} == {"simswap"}
    assert set(plans[0]["tests"]) == {"FS df40-ff", "FR df40-ff", "EFS df40-ff", "FE df40-ff"}
    # a DF40 subset without some families: p2 tests the families the cdf domain has
    plans = materialize(cfg.model_copy(update={"kind": "df40_p2"}), tmp_path / "p2")
    assert set(plans[0]["tests"]) == {"FS df40-cdf", "FR df40-cdf"}
    # `methods` narrows training only: every family is still tested
    narrowed = cfg.model_copy(update={"kind": "df40_p2", "methods": ["simswap"]})
    (fold,) = expand(narrowed, load_rows(cfg))
    assert fold.train.methods == ["simswap"] and set(fold.tests) == {"FS df40-cdf", "FR df40-cdf"}
    (p3,) = expand(cfg.model_copy(update={"kind": "df40_p3"}), load_rows(cfg))
    assert set(p3.tests) == {"e4e"}  # the only one of DF40's unseen methods present
    with pytest.raises(FakelensError, match="starganv2"):  # named explicitly but absent: an error
        materialize(cfg.model_copy(update={"kind": "df40_p3", "methods": ["starganv2"]}), tmp_path / "p3")
    folds = expand(cfg.model_copy(update={"kind": "df40_p4"}), load_rows(cfg))
    assert len(folds) == 4 and all(len(f.tests) == 3 for f in folds)
    assert family_of("face_vid2vid") == "FR" and family_of("SD-2.1") == "EFS" and family_of("nope") is None


def test_yaml_config_and_errors(tmp_path):
    _manifest(tmp_path, _rows("ffpp", ["DF"]))
    good = tmp_path / "p.yaml"
    good.write_text("name: w\nkind: within_dataset\nmanifest: manifest.jsonl\ntrain_datasets: [ffpp]\n")
    cfg = ProtocolConfig.from_yaml(good)
    assert cfg.manifests == [tmp_path / "manifest.jsonl"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: w\nkind: leave_some_out\nmanifest: manifest.jsonl\n")
    with pytest.raises(ConfigError, match="kind") as info:
        ProtocolConfig.from_yaml(bad)
    assert "\n" not in str(info.value)
    nodataset = tmp_path / "plain.csv"
    nodataset.write_text("path,label\na.png,0\n")
    cfg = ProtocolConfig(name="x", kind="within_dataset", manifests=[nodataset], train_datasets=["a"])
    with pytest.raises(FakelensError, match="'dataset' or 'split'"):
        load_rows(cfg)


def test_run_protocol_end_to_end_and_report(tmp_path, demo_dir, tiny_detector):
    for i in range(2):
        for split in ("train", "test"):
            shutil.copy(demo_dir / "astronaut.png", tmp_path / f"real-{split}{i}.png")
            shutil.copy(demo_dir / "astronaut-sbi.png", tmp_path / f"fake-{split}{i}.png")
    rows = []
    for split in ("train", "test"):
        for i in range(2):
            rows.append(_row(f"real-{split}{i}.png", 0, "demo", None, f"r{split}{i}", split))
            rows.append(_row(f"fake-{split}{i}.png", 1, "demo", "sbi", f"f{split}{i}", split))
    cfg = _config(tmp_path, rows, kind="within_dataset", train_datasets=["demo"])
    summary = run_protocol(cfg, tmp_path / "run", model=tiny_detector, progress=False)
    assert [r["level"] for r in summary["rows"]] == ["frame_level", "video_level"]
    assert summary["rows"][0]["n_real"] == 2 and summary["rows"][0]["n_fake"] == 2
    for name in ("results.json", "results.csv", "results.md", "results.png", "protocol.yaml", "folds.json"):
        assert (tmp_path / "run" / name).is_file(), name
    md = (tmp_path / "run" / "results.md").read_text()
    assert "## frame-level" in md and "## video-level" in md
    evaluation = tmp_path / "run" / "t" / "eval" / "demo_within"
    assert (evaluation / "metrics.csv").is_file() and (evaluation / "metrics.md").is_file()

    # fakelens report puts two runs side by side (a protocol run and a plain evaluation)
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "run"), str(evaluation), "-o", str(tmp_path / "cmp")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cmp.md").is_file() and (tmp_path / "cmp.png").is_file()
    header = (tmp_path / "cmp.csv").read_text().splitlines()[0]
    assert header == "test,level,subset,run,demo_within"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nothing-here")])
    assert result.exit_code == 2 and "no such run folder" in result.output


def test_training_without_a_validation_split_fails_before_training(tmp_path):
    rows = [r for r in _rows("a", ["x", "y"]) if r["split"] != "val"]
    cfg = _config(tmp_path, rows, kind="within_dataset", train_datasets=["a"])
    recipe = tmp_path / "recipe.yaml"  # never read: the check comes first
    with pytest.raises(FakelensError, match="no real 'val' rows to select the checkpoint with"):
        run_protocol(cfg, tmp_path / "run", train_recipe=recipe, progress=False)


_SHIPPED = sorted((Path(__file__).parents[2] / "configs" / "protocols").glob("*.yaml"))
_DF40_METHODS = ["simswap", "deepfacelab", "fomm", "heygen", "stylegan2", "midjourney", "e4e", "starganv2"]
_FAKES_OF = {
    "ffpp": ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"],
    "celebdf": ["Celeb-synthesis"],
    "dfdc": ["dfdc"],
    "df40-ff": _DF40_METHODS,
    "df40-cdf": _DF40_METHODS,
    "mine": ["faceswap"],
    "gan": ["stylegan2"],
}


@pytest.mark.parametrize("path", _SHIPPED, ids=lambda p: p.stem)
def test_shipped_protocol_configs_expand_on_a_matching_manifest(tmp_path, path):
    cfg = ProtocolConfig.from_yaml(path)
    assert all(m.parts[-3:-1] != ("configs", "protocols") for m in cfg.manifests)  # made relative to the YAML
    rows = [r for dataset, methods in _FAKES_OF.items() for r in _rows(dataset, methods)]
    cfg.manifests = [_manifest(tmp_path, rows)]
    plans = materialize(cfg, tmp_path / "run")  # raises on a test set without both classes or a leak
    assert plans and all(plan["tests"] for plan in plans)


def test_shipped_protocol_configs_exist():
    assert len(_SHIPPED) >= 8


def test_leave_one_method_out_folds_train_on_their_own_fakes(tmp_path, astronaut, monkeypatch):
    """Each fold's training set holds the fakes of the methods it keeps (not only reals + SBI), so
    two folds train different models; the recipe's own fake folders are not mixed in, and a
    relative output folder works from anywhere."""
    import cv2
    import numpy as np
    import yaml
    from safetensors.numpy import load_file

    h, w = astronaut.shape[:2]
    looks = {  # a 'method' is a visible processing of the photo
        None: lambda im: im,
        "blocky": lambda im: cv2.resize(
            cv2.resize(im, (w // 6, h // 6)), (w, h), interpolation=cv2.INTER_NEAREST
        ),
        "tinted": lambda im: np.clip(im.astype(int) + [60, -40, 0], 0, 255).astype(np.uint8),
    }
    rows = []
    for split in ("train", "val", "test"):
        for i in range(2):
            m = np.array([[0.7 + 0.05 * i, 0, 15 * i], [0, 0.7 + 0.05 * i, 10]], np.float32)
            base = cv2.warpAffine(astronaut, m, (int(w * 0.8), int(h * 0.8)), borderMode=cv2.BORDER_REFLECT)
            for method, look in looks.items():
                name = f"{method or 'real'}-{split}{i}.png"
                cv2.imwrite(str(tmp_path / name), np.ascontiguousarray(look(base)[..., ::-1]))
                rows.append(_row(name, int(method is not None), "d", method, f"{method}{split}{i}", split))
    extra = tmp_path / "recipe-fakes"
    extra.mkdir()
    for i in range(3):
        cv2.imwrite(
            str(extra / f"extra-{i}.png"), np.ascontiguousarray(looks["tinted"](astronaut)[..., ::-1])
        )
    recipe = tmp_path / "recipes" / "recipe.yaml"
    recipe.parent.mkdir()
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "tiny-lomo",
                "model": {
                    "architecture": "tiny-cnn",
                    "pretrained": False,
                    "input_size": 64,
                    "drop_rate": 0.0,
                },
                "data": {
                    "real_dirs": [str(tmp_path)],
                    "fake_dirs": [str(extra)],
                    "cache_dir": str(tmp_path / "cache"),
                },
                "train": {"epochs": 1, "pairs_per_batch": 2, "num_workers": 0, "patience": 1},
                "face": {"crop": {"size": 96}},
            }
        )
    )
    cfg = _config(tmp_path, rows, kind="cross_manipulation", train_datasets=["d"])
    monkeypatch.chdir(tmp_path)
    summary = run_protocol(cfg, "run", train_recipe=recipe, progress=False)
    folds = {p["fold"]: Path(p["folder"]) / "train" for p in summary["folds"]}
    assert len(folds) == 2
    trained = {}
    for fold, run in folds.items():
        splits = json.loads((run / "splits.json").read_text())
        trained[fold] = {Path(p).name.split("-")[0] for p in splits["fakes"]["train"]}
        meta = json.loads((run / "model" / "config.json").read_text())
        assert meta["training"]["train_ready_made_fakes"] == 2
    assert sorted(map(sorted, trained.values())) == [["blocky"], ["tinted"]]
    a, b = (load_file(str(run / "model" / "weights.safetensors")) for run in folds.values())
    assert any(not np.array_equal(a[k], b[k]) for k in a)
