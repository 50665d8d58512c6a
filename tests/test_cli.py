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
    assert res.exit_code == 1, res.output  # the batch went on past bad.jpg, and says it could not read it
    assert "a.png" in res.stdout and "error" in res.stdout
    assert "error: cannot read" in res.stderr and "bad.jpg" in res.stderr
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


def test_models_lists_architectures_and_methods():
    res = runner.invoke(app, ["models"])
    assert res.exit_code == 0 and "sbi-effnet-lite0" in res.stdout
    assert "acmf, fidelity, hierarchical" in res.stdout and "acmf-effnet-lite0" not in res.stdout


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


@pytest.fixture()
def broken_model(monkeypatch):
    """Every detector the scanner gets fails inside predict_proba, as a broken model or GPU would."""
    from fakelens.models.file_scanner import Scanner

    init = Scanner.__init__

    def fail(crops):
        raise RuntimeError("CUDA error: device-side assert triggered")

    def broken_init(self, detector, options=None):
        init(self, detector, options)
        self.detector.predict_proba = fail

    monkeypatch.setattr(Scanner, "__init__", broken_init)


def test_a_model_failure_is_one_line_and_stops_the_scan(tmp_path, demo_dir, tiny_checkpoint, broken_model):
    args = [
        "scan",
        str(demo_dir / "astronaut.png"),
        "--model",
        str(tiny_checkpoint),
        "-o",
        str(tmp_path / "r.jsonl"),
    ]
    for quiet in ([], ["-q"]):
        res = runner.invoke(app, args + quiet)
        assert res.exit_code == 2, res.output
        lines = [x for x in res.output.splitlines() if x.strip()]
        assert len(lines) == 1 and "Traceback" not in res.output, res.output
        assert lines[0].startswith("error: model failure while scanning '") and "astronaut.png" in lines[0]
        assert "RuntimeError: CUDA error" in lines[0] and "--debug" in lines[0]
        assert "cannot read" not in res.output  # not reported as an unreadable file


def test_debug_shows_the_traceback(tmp_path, demo_dir, tiny_checkpoint, broken_model, monkeypatch):
    args = ["scan", str(demo_dir / "astronaut.png"), "--model", str(tiny_checkpoint), "-q"]
    res = runner.invoke(app, ["--debug", *args, "-o", str(tmp_path / "a.jsonl")])
    assert res.exit_code == 2 and "Traceback (most recent call last)" in res.stderr
    assert "predict_proba" in res.stderr and "RuntimeError: CUDA error" in res.stderr
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "b.jsonl")])
    assert "Traceback" not in res.output  # --debug does not stick to later invocations
    monkeypatch.setenv("FAKELENS_DEBUG", "1")
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 2 and "Traceback (most recent call last)" in res.stderr


def test_missing_file_and_empty_folder_exit_nonzero_with_one_line(tmp_path, demo_dir, tiny_checkpoint):
    (tmp_path / "empty").mkdir()
    model = ["--model", str(tiny_checkpoint), "-o", str(tmp_path / "r.jsonl")]
    for quiet in ([], ["-q"]):
        res = runner.invoke(app, ["scan", str(tmp_path / "missing.jpg"), *model, *quiet])
        assert res.exit_code == 1, res.output
        errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
        assert errors == [f"error: cannot read '{tmp_path / 'missing.jpg'}': no such file"], res.stderr
        if quiet:
            assert res.output.strip() == errors[0]
        res = runner.invoke(app, ["scan", str(tmp_path / "empty"), *model, *quiet])
        assert res.exit_code == 2, res.output
        lines = [x for x in res.output.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: nothing to scan: no image or video files in")


def test_a_missing_input_among_good_ones_keeps_their_results(tmp_path, demo_dir, tiny_checkpoint):
    out = tmp_path / "r.jsonl"
    args = [str(demo_dir / "astronaut.png"), str(tmp_path / "typo.png"), "--model", str(tiny_checkpoint)]
    res = runner.invoke(app, ["scan", *args, "-o", str(out), "-q"])
    assert (
        res.exit_code == 1
        and res.output.strip() == f"error: cannot read '{tmp_path / 'typo.png'}': no such file"
    )
    files = [json.loads(x) for x in out.read_text().splitlines() if '"type": "file"' in x]
    assert [f["verdict"] in ("real", "fake") for f in files] == [True, False]
