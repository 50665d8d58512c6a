"""CLI option contracts: a wrong choice is one line with a suggestion and exit 2; ``-o`` is ``--out``
(the command's output) in every command that writes one, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.cli import choices as ch

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (
            ["scan", "x.png", "--backend", "onx"],
            "--backend 'onx' is not one of torch, onnx, auto (did you mean 'onnx'?)",
        ),
        (["serve", "--backend", "trch"], "did you mean 'torch'?"),
        (["evaluate", "m.csv", "--backend", "autoo"], "did you mean 'auto'?"),
        (["evaluate", "m.csv", "--tta", "acfm"], "--tta 'acfm' is not one of acmf (did you mean 'acmf'?)"),
        (["prepare", "src", "--layout", "celbdf", "-o", "out"], "did you mean 'celebdf'?"),
        (["prepare", "src", "--layout", "ffpp", "--compression", "c32", "-o", "o"], "did you mean 'c23'?"),
        (["report", "run", "--metric", "aux"], "--metric 'aux' is not one of auc, ap, eer, acc, fpr, tpr"),
        (["synth", "real", "-o", "o", "--methods", "sbi,fceswap"], "--methods 'fceswap' is not one of"),
        (
            ["train", "r.yaml", "--strategy", "dpp"],
            "--strategy 'dpp' is not one of auto, ddp (did you mean 'ddp'?)",
        ),
        (
            ["train", "r.yaml", "--precision", "16"],
            "--precision '16' is not one of 32-true, 16-mixed, bf16-mixed",
        ),
    ],
)
def test_a_wrong_choice_is_one_line_with_a_suggestion(args, wanted):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and wanted in lines[0]


def test_no_suggestion_when_nothing_is_close():
    assert ch.not_one_of("--backend", "zzz", ["torch", "onnx"]) == "--backend 'zzz' is not one of torch, onnx"


def test_choices_accept_any_case(tmp_path):
    res = runner.invoke(app, ["scan", str(tmp_path / "none.png"), "--backend", "ONNX", "-q"])
    assert "is not one of" not in res.output  # parsed; fails later on the missing file


def test_choice_enums_match_the_library():
    from fakelens.data.layouts import FFPP_COMPRESSIONS, LAYOUTS
    from fakelens.data.synth import METHODS
    from fakelens.evaluate.results import METRICS
    from fakelens.models.onnx_backend import BACKENDS
    from fakelens.serve.settings import BACKENDS as SERVE_BACKENDS

    assert tuple(ch.Backend) == BACKENDS == SERVE_BACKENDS
    assert tuple(ch.Layout) == LAYOUTS and tuple(ch.Compression) == FFPP_COMPRESSIONS
    assert tuple(ch.Metric) == METRICS and ch.SYNTH_METHODS == METHODS


def test_dash_o_is_out_everywhere_and_nothing_else():
    group = typer.main.get_command(app)
    with_out = set()
    for name, cmd in group.commands.items():
        for param in cmd.params:
            opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
            if "-o" in opts:
                assert "--out" in opts, f"{name}: -o is not --out"
            if "--out" in opts:
                assert "-o" in opts, f"{name}: --out without -o"
                with_out.add(name)
    writers = {
        "scan",
        "export",
        "prepare",
        "synth",
        "train",
        "ensemble",
        "evaluate",
        "protocol",
        "report",
        "temporal",
    }
    assert with_out == writers


class _Stop(Exception):
    pass


def _capture(monkeypatch, target: str) -> list:
    """Replace ``module.func`` by a recorder that stops the command once it is called."""
    calls = []

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        raise ValueError("stopped by the test")

    monkeypatch.setattr(target, record)
    return calls


def test_dash_o_reaches_each_command(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (tmp_path / "faces").mkdir()
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {real_dirs: [faces]}\n")
    ens = tmp_path / "e.yaml"
    ens.write_text("name: e\nout_dir: elsewhere\nmembers: [a, b]\ndata: {real_dirs: [faces]}\n")
    monkeypatch.setattr("fakelens.models.detector.load_detector", lambda *a, **k: object())
    cases = [  # command, the function its output path reaches, where the path is in its arguments
        (["prepare", str(tmp_path), "--layout", "generic"], "fakelens.data.prepare.prepare_dataset", 2),
        (["synth", str(tmp_path)], "fakelens.data.synth.synthesize", 1),
        (["evaluate", "m.csv"], "fakelens.evaluate.run.evaluate_manifest", 1),
        (["protocol", "p.yaml"], "fakelens.evaluate.protocol_run.run_protocol", 1),
        (["export", "--onnx"], "fakelens.models.onnx_backend.export_onnx", 1),
        (["train", str(recipe)], "fakelens.train.loop.train", "out_dir"),
        (["ensemble", str(ens)], "fakelens.train.ensemble.build_ensemble", "out_dir"),
    ]
    for args, target, where in cases:
        calls = _capture(monkeypatch, target)
        res = runner.invoke(app, [*args, "-o", str(out)])
        assert res.exit_code == 2 and "stopped by the test" in res.output, (args, res.output)
        got = getattr(calls[0][0][0], where) if isinstance(where, str) else calls[0][0][where]
        assert Path(got) == out, (args, got)


def test_dash_o_writes_scan_and_report(tmp_path, demo_dir, monkeypatch):
    out = tmp_path / "scan.jsonl"
    shutil.copy(demo_dir / "astronaut.png", tmp_path / "a.png")
    res = runner.invoke(app, ["scan", str(tmp_path / "a.png"), "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().count('"type": "file"') == 1
    rows = [{"test": "t", "level": "frame_level", "subset": "all", "r": 0.9}]
    monkeypatch.setattr("fakelens.evaluate.results.compare_runs", lambda runs, metric: (["r"], rows))
    res = runner.invoke(app, ["report", str(tmp_path), "--metric", "ap", "-o", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cmp.md").is_file() and (tmp_path / "cmp.csv").is_file()
