"""``fakelens train --continue-from`` (issue 14 item 4): a second forgery task trained on a first
one's model, by incremental detection (a head per task, SUR memory, a teacher) or naive fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch
import yaml
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.data.facecache import build_faceset
from fakelens.data.sbi_dataset import SBIPairs
from fakelens.faces.pipeline import FaceConfig
from fakelens.preprocess import Preprocess
from fakelens.train.continual import replay_bank
from train_helpers import write_config, write_reals


@pytest.fixture(scope="module")
def folders(tmp_path_factory, astronaut):
    """Reals, and a 'blurred' family of ready-made fakes (the second task)."""
    reals = write_reals(tmp_path_factory.mktemp("reals"), astronaut)
    fakes = tmp_path_factory.mktemp("fakes") / "blurred"
    fakes.mkdir()
    for i, path in enumerate(sorted(reals.glob("face_*.png"))):
        img = cv2.imread(str(path))
        cv2.imwrite(str(fakes / f"fake_{i:02d}.png"), cv2.GaussianBlur(img, (0, 0), 3))
    return reals, fakes


def _recipe(tmp_path, name, reals, method, fakes=None, **data):
    path = write_config(tmp_path / name, reals, epochs=1)
    cfg = yaml.safe_load(path.read_text())
    cfg["name"] = name
    cfg["method"] = method
    cfg["data"].update(data)
    if fakes is not None:
        cfg["data"].update(
            sbi=False, fake_dirs=[str(fakes.parent)], fake_families=["blurred"], group_by="file"
        )
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(*args):
    result = CliRunner().invoke(app, ["train", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def first_task(tmp_path_factory, folders):
    tmp = tmp_path_factory.mktemp("task1")
    method = {"name": "incremental", "exemplars_per_class": 4}
    _train(_recipe(tmp, "blend", folders[0], method))
    return tmp / "blend" / "run" / "model"


def test_the_first_task_writes_its_sur_memory(first_task):
    memory = json.loads((first_task / "memory.json").read_text())
    cfg = json.loads((first_task / "config.json").read_text())
    # the replay bank remakes each exemplar as training saw it (a self-blend from its seed)
    face, pre = FaceConfig.from_dict(cfg["face"]), Preprocess(**cfg["preprocess"])
    cache = first_task.parent.parent / "cache"
    bank = replay_bank(memory, face, pre, cache)
    train_paths = json.loads((first_task.parent / "splits.json").read_text())["reals"]["train"]
    train = build_faceset([Path(p) for p in train_paths], face, cache)
    pairs = SBIPairs(train, pre, seed=0)
    for row, entry in enumerate(memory):
        i = train.paths.index(entry["path"])
        image = pairs.fixed_fake(i, 0).fake if entry["kind"] == "self-blend" else train.crops[i]
        assert torch.equal(bank.images[row], pre.to_tensor([image])[0]) and bank.labels[row] == entry["label"]
    assert cfg["incremental"]["tasks"] == ["blend"] and cfg["model_kwargs"].get("heads", 1) == 1
    assert {e["kind"] for e in memory} == {"real", "self-blend"} and len(memory) <= 8
    assert {e["task"] for e in memory} == {"blend"} and cfg["incremental"]["memory"]["exemplars"] == len(
        memory
    )


def test_incremental_task_adds_a_head_replays_and_keeps_the_memory(tmp_path, folders, first_task):
    method = {"name": "incremental", "exemplars_per_class": 4, "replay_per_batch": 2}
    recipe = _recipe(tmp_path, "blurred", folders[0], method, fakes=folders[1])
    _train(recipe, "--continue-from", first_task)
    model = tmp_path / "blurred" / "run" / "model"
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["model_kwargs"]["heads"] == 2
    assert cfg["incremental"]["tasks"] == ["blend", "blurred"]
    assert cfg["incremental"]["continued_from"] == str(first_task)
    memory = json.loads((model / "memory.json").read_text())
    assert [e["head"] for e in memory if e["task"] == "blend"] and {e["head"] for e in memory} == {0, 1}
    assert {e["kind"] for e in memory if e["task"] == "blurred"} == {"real", "ready-made"}
    assert all("blurred" in e["path"] for e in memory if e["kind"] == "ready-made")
    # a naively fine-tuned model keeps one head; incremental detection cannot continue it
    naive = _recipe(tmp_path, "naive", folders[0], {"name": "plain"}, fakes=folders[1])
    _train(naive, "--continue-from", first_task)
    naive_model = tmp_path / "naive" / "run" / "model"
    naive_cfg = json.loads((naive_model / "config.json").read_text())
    assert naive_cfg["model_kwargs"].get("heads", 1) == 1 and not (naive_model / "memory.json").exists()
    assert naive_cfg["incremental"]["tasks"] == ["blend", "naive"]
    again = CliRunner().invoke(app, ["train", str(recipe), "--continue-from", str(naive_model)])
    assert isinstance(again.exception, SystemExit) and "1 head(s) for 2 tasks" in again.output
    # a continued run resumes only with the same --continue-from (its teacher, memory and heads)
    resumed = CliRunner().invoke(app, ["train", str(recipe), "--resume"])
    assert isinstance(resumed.exception, SystemExit) and "started with --continue-from" in resumed.output


def test_an_unknown_family_is_one_line(tmp_path, folders):
    recipe = _recipe(tmp_path, "none", folders[0], {"name": "plain"}, fakes=folders[1])
    cfg = yaml.safe_load(recipe.read_text())
    cfg["data"]["fake_families"] = ["lipsync"]
    recipe.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["train", str(recipe)])
    assert isinstance(result.exception, SystemExit) and "no ready-made fakes of lipsync" in result.output
    assert "blurred" in result.output
