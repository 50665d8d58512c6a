from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.faces import FaceConfig
from fakelens.models import create_model
from fakelens.models.checkpoint import save_checkpoint

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck") / "tiny"
    cfg = {
        "name": "tiny",
        "architecture": "tiny-cnn",
        "model_kwargs": {},
        "preprocess": {"input_size": 64, "mean": [0.5] * 3, "std": [0.5] * 3},
        "face": FaceConfig().to_dict(),
        "threshold": 0.5,
    }
    return save_checkpoint(folder, create_model("tiny-cnn"), cfg)


def test_scan_command_writes_records_table_and_report(tmp_path, demo_dir, tiny_checkpoint):
    shutil.copy(demo_dir / "astronaut.png", tmp_path / "a.png")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out, report = tmp_path / "r.jsonl", tmp_path / "r.html"
    res = runner.invoke(
        app,
        ["scan", str(tmp_path), "--model", str(tiny_checkpoint), "--out", str(out), "--report", str(report)],
    )
    assert res.exit_code == 0, res.output
    assert "a.png" in res.stdout and "error" in res.stdout
    files = [json.loads(x) for x in out.read_text().splitlines() if '"type": "file"' in x]
    assert len(files) == 2 and report.is_file()


def test_scan_resume_and_threshold(tmp_path, demo_dir, tiny_checkpoint):
    out = tmp_path / "r.jsonl"
    args = ["scan", str(demo_dir / "astronaut.png"), "--model", str(tiny_checkpoint), "--out", str(out), "-q"]
    assert runner.invoke(app, args + ["--threshold", "0.0"]).exit_code == 0
    rec = json.loads(out.read_text().splitlines()[-1])
    assert rec["verdict"] == "fake" and rec["threshold"] == 0.0
    assert runner.invoke(app, args + ["--resume"]).exit_code == 0
    assert len(out.read_text().splitlines()) == 2  # nothing scanned twice


def test_unknown_model_is_one_line_error(tmp_path, demo_dir):
    res = runner.invoke(app, ["scan", str(demo_dir), "--model", str(tmp_path / "nope"), "-q"])
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "cannot load model" in lines[0] and "Traceback" not in res.output


def test_bad_train_config_is_one_line_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {real_dirs: []}\ntrain: {lr: -1}\n")
    res = runner.invoke(app, ["train", str(cfg)])
    assert res.exit_code == 2 and "train.lr" in res.output and "Traceback" not in res.output


def test_models_lists_architectures():
    res = runner.invoke(app, ["models"])
    assert res.exit_code == 0 and "sbi-effnet-lite0" in res.stdout


def test_evaluate_command(tmp_path, demo_dir, tiny_checkpoint):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label,video_id,method\n"
        f"{demo_dir / 'astronaut.png'},real,,\n"
        f"{demo_dir / 'astronaut-sbi.png'},fake,,sbi\n"
        f"{demo_dir / 'astronaut-pan.mp4'},real,pan,\n"
    )
    out = tmp_path / "eval"
    res = runner.invoke(
        app, ["evaluate", str(manifest), "--model", str(tiny_checkpoint), "--out", str(out), "--frames", "4"]
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["frame_level"]["n"] == 6  # 1 + 1 + 4 frames
    assert metrics["metrics"]["video_level"]["n"] == 3
    assert (out / "roc.png").stat().st_size > 1000 and (out / "scores.jsonl").is_file()
    assert "sbi" in metrics["frame_level_per_method"]


def test_version_and_help():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("fakelens ")
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0 and all(cmd in res.stdout for cmd in ("scan", "train", "evaluate", "models"))
