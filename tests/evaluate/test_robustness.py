"""Robustness runs: the scanner's frame transform, perturbed evaluation, the summary files, the CLI."""

from __future__ import annotations

import csv
import json
import shutil

import cv2
import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.evaluate.robustness import evaluate_robustness
from fakelens.evaluate.run import evaluate_manifest
from fakelens.faces import FaceConfig
from fakelens.forge.perturb import Perturbation
from fakelens.models import create_model
from fakelens.models.checkpoint import save_checkpoint
from fakelens.scan import Scanner, ScanOptions


@pytest.fixture(scope="module")
def tiny(tiny_detector):
    """The shared untrained detector (tests/conftest.py): mechanics, not skill, are tested."""
    return tiny_detector


@pytest.fixture()
def manifest(tmp_path, demo_dir):
    for name in ("astronaut.png", "astronaut-sbi.png"):
        shutil.copy(demo_dir / name, tmp_path / name)
    path = tmp_path / "m.csv"
    path.write_text("path,label\nastronaut.png,real\nastronaut-sbi.png,fake\n")
    return path


def test_scanner_transform_degrades_frames_before_detection(demo_dir, tiny):
    photo = demo_dir / "astronaut.png"
    clean = Scanner(tiny).scan_file(photo)
    blurred = Scanner(tiny, ScanOptions(transform=Perturbation("blur", 5).transform())).scan_file(photo)
    again = Scanner(tiny, ScanOptions(transform=Perturbation("blur", 5).transform())).scan_file(photo)
    assert clean.record.faces == blurred.record.faces == 1
    assert blurred.record.score != pytest.approx(clean.record.score, abs=1e-6)
    assert blurred.record.score == again.record.score  # deterministic
    seen = []
    Scanner(tiny, ScanOptions(num_frames=3, transform=lambda im: seen.append(im.shape) or im)).scan_file(
        demo_dir / "astronaut-pan.mp4"
    )
    assert len(seen) == 3  # every sampled video frame goes through the transform


def test_perturbed_evaluation_records_the_perturbation(tmp_path, manifest, tiny):
    clean = evaluate_manifest(manifest, tmp_path / "clean", model=tiny, progress=False)
    noisy = evaluate_manifest(manifest, tmp_path / "noisy", model=tiny, progress=False, perturb="noise:2")
    assert clean["perturbation"] is None
    assert noisy["perturbation"] == {
        "name": "noise",
        "level": 2,
        "params": {"variance": 0.002},
        "spec": "noise:2",
    }
    config = json.loads((tmp_path / "noisy" / "config.json").read_text())
    assert config["perturbation"]["spec"] == "noise:2"

    def scores(folder):
        return [json.loads(x)["score"] for x in (tmp_path / folder / "scores.jsonl").read_text().splitlines()]

    assert scores("clean") != scores("noisy")


def test_robustness_writes_json_csv_markdown_and_plot(tmp_path, manifest, tiny):
    out = tmp_path / "rob"
    summary = evaluate_robustness(
        manifest, out, model=tiny, perturbations=("jpeg", "saturation"), levels=(1, 3), progress=False
    )
    assert summary["perturbations"] == ["jpeg", "saturation"] and summary["levels"] == [1, 3]
    assert [(r["perturbation"], r["level"]) for r in summary["conditions"]] == [
        ("clean", 0),
        ("jpeg", 1),
        ("jpeg", 3),
        ("saturation", 1),
        ("saturation", 3),
    ]
    assert summary["video_level_auc"] is None  # photos only: no video-level table
    table = summary["frame_level_auc"]
    assert set(table) == {"clean", "jpeg", "saturation"} and set(table["jpeg"]) == {"1", "3"}
    assert table["clean"] is not None and all(v is not None for v in table["jpeg"].values())
    assert json.loads((out / "robustness.json").read_text())["frame_level_auc"] == table
    rows = list(csv.DictReader((out / "robustness.csv").open()))
    assert len(rows) == 5 and rows[2]["param"] == "quality" and rows[2]["value"] == "30"
    md = (out / "robustness.md").read_text()
    assert "| perturbation | parameter | clean | L1 | L3 |" in md
    assert "| jpeg | quality 70/30 |" in md and "Video-level" not in md
    assert "## Frame-level false alarms" in md  # real faces flagged at the threshold, per condition
    fpr = [r["frame_fpr"] for r in summary["conditions"]]
    assert all(0.0 <= v <= 1.0 for v in fpr)
    png = cv2.imread(str(out / "robustness.png"))
    assert png is not None and png.shape[1] > png.shape[0]
    for folder in ("clean", "jpeg-1", "jpeg-3", "saturation-1", "saturation-3"):
        assert (out / folder / "metrics.json").is_file()


def test_robustness_with_a_video_has_a_separate_video_level_table(tmp_path, manifest, demo_dir, tiny):
    shutil.copy(demo_dir / "astronaut-pan.mp4", tmp_path / "pan.mp4")
    manifest.write_text(manifest.read_text() + "pan.mp4,real\n")
    summary = evaluate_robustness(
        manifest, tmp_path / "rob", model=tiny, perturbations="h264:1", num_frames=3, progress=False
    )
    assert summary["video_level_auc"] is not None
    md = (tmp_path / "rob" / "robustness.md").read_text()
    assert md.index("## Frame-level AUC") < md.index("## Video-level AUC")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    cfg = {
        "name": "tiny",
        "architecture": "tiny-cnn",
        "model_kwargs": {},
        "preprocess": {"input_size": 64, "mean": [0.5] * 3, "std": [0.5] * 3},
        "face": FaceConfig().to_dict(),
        "threshold": 0.5,
    }
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", create_model("tiny-cnn"), cfg)


def test_cli_perturb(tmp_path, manifest, tiny_checkpoint):
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", str(manifest), "--perturb", "nope:9", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "unknown perturbation 'nope:9'" in lines[0] and "jpeg" in lines[0]
    base = ["evaluate", str(manifest), "--model", str(tiny_checkpoint)]
    res = runner.invoke(app, [*base, "--perturb", "blur:2", "-o", str(tmp_path / "one")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["perturbation"]["spec"] == "blur:2"
    res = runner.invoke(app, [*base, "--perturb", "blur:1,noise:1", "-o", str(tmp_path / "rob")])
    assert res.exit_code == 0, res.output
    assert "blur" in res.stdout and (tmp_path / "rob" / "robustness.md").is_file()
