"""ONNX export + ONNX Runtime inference agree with PyTorch, and bad ONNX files fail in one line."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.errors import FakelensError
from fakelens.faces import FaceConfig, FacePipeline
from fakelens.models.detector import Detector, load_detector
from fakelens.models.onnx_backend import ONNX_FILE, OnnxDetector, cache_root, export_onnx
from fakelens.scan.api import scan_paths
from fakelens.scan.explain import grad_cam

ATOL = 1e-4
runner = CliRunner()


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path_factory, monkeypatch):
    """Exports made on demand go to a temporary cache, never the user's ~/.cache."""
    root = tmp_path_factory.getbasetemp() / "fakelens-cache"
    monkeypatch.setenv("FAKELENS_CACHE", str(root))
    return root


def _crops(n, size=100, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _torch_logits(det: Detector, crops) -> np.ndarray:
    with torch.inference_mode():
        return det.model(det.preprocess.to_tensor(crops)).float().numpy()


def _agree(torch_det: Detector, onnx_det: OnnxDetector, crops) -> None:
    want = _torch_logits(torch_det, crops)
    logit, prob = onnx_det.run(onnx_det.preprocess.to_tensor(crops).contiguous().numpy())
    assert np.abs(logit - want).max() < ATOL
    assert np.abs(prob - torch.sigmoid(torch.from_numpy(want)).numpy()).max() < ATOL
    assert np.abs(onnx_det.predict_proba(crops) - torch_det.predict_proba(crops)).max() < ATOL


@pytest.fixture(scope="module")
def torch_default():
    return load_detector(backend="torch")


@pytest.fixture(scope="module")
def onnx_default(tmp_path_factory):
    path = export_onnx(None, tmp_path_factory.mktemp("export") / "lite0")
    return load_detector(path.parent, backend="onnx")


def test_tiny_export_is_self_describing_and_matches_torch(tmp_path, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck")
    path = export_onnx(ck, tmp_path / "out")
    assert path == tmp_path / "out" / ONNX_FILE
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["preprocess"]["input_size"] == 64 and cfg["onnx"]["opset"] == 17
    det = load_detector(tmp_path / "out", backend="onnx")
    assert isinstance(det, OnnxDetector) and det.backend == "onnx" and not det.can_explain
    assert det.threshold == 0.5 and det.face == FaceConfig()
    ref = load_detector(ck, backend="torch")
    _agree(ref, det, _crops(5))
    _agree(ref, det, _crops(1, seed=1))  # the batch axis is dynamic
    assert det.predict_proba([]).shape == (0,)


def test_shipped_default_matches_torch_on_a_fixed_batch(torch_default, onnx_default, astronaut):
    faces = FacePipeline(torch_default.face).extract(astronaut)
    assert len(faces) == 1
    crops = _crops(7, size=224) + [faces[0].crop]
    _agree(torch_default, onnx_default, crops)


def test_scan_gives_the_same_verdict_with_both_backends(torch_default, onnx_default, demo_dir):
    a, b = (
        scan_paths([demo_dir / "astronaut.png"], model=d, progress=False)[0]
        for d in (torch_default, onnx_default)
    )
    assert (a.verdict, a.faces) == (b.verdict, b.faces) and a.verdict in ("real", "fake")
    assert abs(a.score - b.score) < ATOL


def test_checkpoint_without_export_is_exported_once_to_the_cache(tmp_path, onnx_cache, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck", seed=1)
    det = load_detector(ck, backend="onnx")
    assert det.onnx_path.is_relative_to(cache_root()) and det.onnx_path.is_file()
    assert det._torch is None and det.can_explain  # PyTorch loads only when a heat map is asked for
    crop = _crops(1)[0]
    ref = load_detector(ck, backend="torch")
    assert np.allclose(grad_cam(det, crop), grad_cam(ref, crop), atol=1e-5)
    again = load_detector(ck, backend="auto")
    assert again.onnx_path == det.onnx_path  # reused, not re-exported


def test_stale_export_beside_new_weights_is_not_used(tmp_path, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck", seed=2)
    export_onnx(ck, ck)  # into the checkpoint folder itself
    assert load_detector(ck, backend="onnx").onnx_path == ck / ONNX_FILE
    make_tiny_checkpoint(ck, seed=3)  # retrained: the export beside it is now stale
    with pytest.warns(UserWarning, match="exported from other weights"):
        det = load_detector(ck, backend="onnx")
    assert det.onnx_path != ck / ONNX_FILE
    _agree(load_detector(ck, backend="torch"), det, _crops(3))


def test_bad_or_missing_onnx_files_give_one_line_errors(tmp_path, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck")
    export_onnx(ck, tmp_path / "good")
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "good", bad)
    (bad / ONNX_FILE).write_bytes(b"\x08\x07 this is not a protobuf")
    cases = {
        bad: "not a readable ONNX model",
        tmp_path / "missing.onnx": "no such ONNX file",
        tmp_path / "nowhere": "neither a checkpoint folder nor a shipped model",
    }
    truncated = tmp_path / "truncated"
    shutil.copytree(tmp_path / "good", truncated)
    data = (truncated / ONNX_FILE).read_bytes()
    (truncated / ONNX_FILE).write_bytes(data[: len(data) // 2])
    cases[truncated] = "not a readable ONNX model"
    resized = tmp_path / "resized"
    shutil.copytree(tmp_path / "good", resized)
    cfg = json.loads((resized / "config.json").read_text())
    cfg["preprocess"]["input_size"] = 96
    (resized / "config.json").write_text(json.dumps(cfg))
    cases[resized] = "config.json says 96 px"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((tmp_path / "good" / "config.json").read_text())
    cases[empty] = "neither model.onnx nor weights.safetensors"
    for path, reason in cases.items():
        with pytest.raises(FakelensError, match=reason) as err:
            load_detector(path, backend="onnx")
        assert "\n" not in str(err.value) and str(path) in str(err.value)
    with pytest.raises(FakelensError, match="heat maps need PyTorch weights"):
        grad_cam(load_detector(tmp_path / "good", backend="onnx"), _crops(1)[0])
    with pytest.raises(ValueError, match="unknown backend"):
        load_detector(ck, backend="tensorrt")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's TorchScript exporter
def test_foreign_onnx_graph_is_refused(tmp_path, make_tiny_checkpoint):
    folder = tmp_path / "foreign"
    folder.mkdir()
    shutil.copy(make_tiny_checkpoint(tmp_path / "ck") / "config.json", folder / "config.json")
    torch.onnx.export(
        torch.nn.Conv2d(3, 1, 3), (torch.zeros(1, 3, 64, 64),), str(folder / ONNX_FILE), dynamo=False
    )
    with pytest.raises(FakelensError, match="not a fakelens export"):
        load_detector(folder, backend="onnx")


def test_export_never_overwrites_another_models_config(tmp_path, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"name": "someone else"}')
    with pytest.raises(FakelensError, match="another model"):
        export_onnx(ck, other / "x.onnx")
    assert not (other / "x.onnx").exists()
    export_onnx(ck, tmp_path / "twice")
    export_onnx(ck, tmp_path / "twice")  # re-exporting the same model over itself is fine


def test_backends_without_onnxruntime(tmp_path, monkeypatch, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    det = load_detector(ck, backend="auto")
    assert type(det) is Detector and det.backend == "torch"
    with pytest.raises(FakelensError, match="needs onnxruntime"):
        load_detector(ck, backend="onnx")


def test_cli_export_and_scan_with_each_backend(tmp_path, demo_dir, make_tiny_checkpoint):
    ck = make_tiny_checkpoint(tmp_path / "ck")
    res = runner.invoke(app, ["export", "--model", str(ck), "--onnx", "--out", str(tmp_path / "x")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "x" / ONNX_FILE).is_file() and (tmp_path / "x" / "config.json").is_file()
    for bad in (["--model", str(ck)], ["--model", str(ck), "--onnx", "--opset", "25"]):
        res = runner.invoke(app, ["export", *bad, "--out", str(tmp_path / "y")])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
        assert ("--onnx" if len(bad) == 2 else "opset 25") in res.output
    shutil.copy(demo_dir / "astronaut.png", tmp_path / "a.png")
    scores = {}
    export_onnx(ck, tmp_path / "x" / "named.onnx")  # any file name, config.json beside it
    runs = (("torch", ck), ("onnx", ck), ("onnx", tmp_path / "x"), ("auto", tmp_path / "x" / "named.onnx"))
    for backend, model in runs:
        out = tmp_path / f"{backend}.jsonl"
        args = ["scan", str(tmp_path / "a.png"), "--model", str(model), "--backend", backend, "-o", str(out)]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert f"({'onnx' if backend == 'auto' else backend})" in res.stdout
        rec = [json.loads(line) for line in out.read_text().splitlines() if '"file"' in line][-1]
        scores[(backend, str(model))] = rec["score"]
    assert max(scores.values()) - min(scores.values()) < ATOL
    args = [
        "scan",
        str(tmp_path / "a.png"),
        "--model",
        str(tmp_path / "x"),
        "--report",
        str(tmp_path / "r.html"),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "heat maps need PyTorch weights" in res.output


def test_a_pool_worker_s_thread_count_comes_from_fakelens_threads(monkeypatch):
    import os

    from fakelens.models.onnx_backend import cpu_threads

    monkeypatch.delenv("FAKELENS_THREADS", raising=False)
    assert cpu_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("FAKELENS_THREADS", "1")
    assert cpu_threads() == 1
    monkeypatch.setenv("FAKELENS_THREADS", "zero")  # not a count: the cores, as without it
    assert cpu_threads() == len(os.sched_getaffinity(0))
