"""Results: comparing runs reads every kind of run folder, levels kept apart."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.errors import FakelensError
from fakelens.evaluate.results import compare_runs, load_run, robustness_rows


def _condition(name: str, level: int, frame_auc, video_auc=None, error=None) -> dict:
    row = {"perturbation": name, "level": level, "param": None, "value": None, "error": error}
    for short, auc in (("frame", frame_auc), ("video", video_auc)):
        row |= {f"{short}_auc": auc, f"{short}_n": None if auc is None else 10}
        row |= {f"{short}_{k}": None for k in ("ap", "eer", "acc", "n_real", "n_fake")}
    return row


def _robustness_run(folder, conditions) -> None:
    folder.mkdir(parents=True)
    (folder / "robustness.json").write_text(json.dumps({"model": "m", "conditions": conditions}))


def test_a_robustness_run_gives_one_row_per_condition_and_level(tmp_path):
    conditions = [
        _condition("clean", 0, 0.9, 0.95),
        _condition("jpeg", 3, 0.8, 0.85),
        _condition("blur", 5, None, None, error="no face could be scored"),
    ]
    _robustness_run(tmp_path / "rob", conditions)
    rows = load_run(tmp_path / "rob")
    got = {(r["test"], r["level"]): r["auc"] for r in rows}
    assert got == {
        ("clean", "frame_level"): 0.9,
        ("clean", "video_level"): 0.95,
        ("jpeg:3", "frame_level"): 0.8,
        ("jpeg:3", "video_level"): 0.85,
    }  # the failed condition has no figures, not zeros
    assert all(r["run"] == "rob" and r["subset"] == "all" for r in rows)
    assert robustness_rows({"conditions": conditions[:1]})[0]["n"] == 10


def test_report_compares_two_robustness_runs(tmp_path):
    _robustness_run(tmp_path / "a", [_condition("clean", 0, 0.9), _condition("jpeg", 3, 0.7)])
    _robustness_run(tmp_path / "b", [_condition("clean", 0, 0.8), _condition("jpeg", 3, 0.75)])
    names, rows = compare_runs([tmp_path / "a", tmp_path / "b"])
    assert names == ["a", "b"]
    assert {r["test"]: (r["a"], r["b"]) for r in rows} == {"clean": (0.9, 0.8), "jpeg:3": (0.7, 0.75)}
    assert {r["level"] for r in rows} == {"frame_level"}  # photos only: no video-level rows invented
    res = CliRunner().invoke(app, ["report", str(tmp_path / "a"), str(tmp_path / "b")])
    assert res.exit_code == 0 and "jpeg:3" in res.output and "0.7000" in res.output


def test_bad_run_folders_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FakelensError, match="no results.json, metrics.json or robustness.json"):
        load_run(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "robustness.json").write_text("{not json")
    res = CliRunner().invoke(app, ["report", str(tmp_path / "broken")])
    assert res.exit_code == 2 and "not valid JSON" in res.output and len(res.output.strip().splitlines()) == 1


def test_protocol_folds_reusing_a_test_name_stay_apart(tmp_path):
    rows = [
        {"fold": f"leave-out-{m}", "test": "seen methods", "level": "frame_level", "subset": "all", "auc": a}
        for m, a in (("x", 0.6), ("y", 0.7))
    ]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps({"rows": rows}))
    names, table = compare_runs([tmp_path / "run"])
    assert {r["test"]: r["run"] for r in table} == {
        "leave-out-x: seen methods": 0.6,
        "leave-out-y: seen methods": 0.7,
    }
