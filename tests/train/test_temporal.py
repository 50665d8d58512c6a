import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.faces import FaceConfig
from fakelens.metrics import roc_auc
from fakelens.models import create_model
from fakelens.models.checkpoint import save_checkpoint
from fakelens.train import temporal as tt
from fakelens.train.temporal import Track, fit_head, track_scores, train_temporal_head


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny ops on two busy cores: a second thread only spins (27 s instead of 1.5 s here)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _frozen_vs_moving(n: int, seed: int, t: int = 12, d: int = 32) -> list[Track]:
    """Every frame looks alike in both classes (same marginals, frame logits pure noise), but a
    fake's embedding is frozen across its frames while a real's moves: only time separates them."""
    rng = np.random.default_rng(seed)
    tracks = []
    for k in range(n):
        label = k % 2
        base = rng.normal(0, 1, d)
        motion = np.repeat(rng.normal(0, 1, (1, d)), t, 0) if label else rng.normal(0, 1, (t, d))
        emb = (base + motion + rng.normal(0, 0.05, (t, d))).astype(np.float32)
        logits = rng.normal(0, 1, t).astype(np.float32)
        tracks.append(Track(f"v{k}", label, "animate" if label else None, "x", emb, logits))
    return tracks


def test_the_head_learns_what_only_time_shows():
    train, val = _frozen_vs_moving(160, seed=0), _frozen_vs_moving(60, seed=1)
    head, fit = fit_head(train, val, frames=8, epochs=25, seed=0, width=32)
    test = _frozen_vs_moving(80, seed=2)
    s = track_scores(head, test)
    y = np.array([t.label for t in test])
    assert roc_auc(y, s["mean"]) < 0.7  # per-frame aggregation sees nothing
    assert roc_auc(y, s["head"]) > 0.85
    assert 1 <= fit["best_epoch"] <= 25 and len(fit["history"]) == 25


def test_training_is_deterministic_given_the_seed():
    train, val = _frozen_vs_moving(40, seed=0), _frozen_vs_moving(20, seed=1)
    runs = [fit_head(train, val, frames=6, epochs=2, seed=3, width=8)[1]["history"] for _ in range(2)]
    assert runs[0] == runs[1]


def test_frames_are_ordered_by_the_number_in_the_name(tmp_path):
    from fakelens.data.manifest import ManifestRow

    names = ["c_f00022.png", "c_f00004.png", "c_f00013.png"]
    rows = [ManifestRow(tmp_path / n, 1, "v", "lipsync", split="val") for n in names]
    (t,) = tt.build_tracks(rows, np.eye(3, dtype=np.float32), np.array([2.0, 0.0, 1.0]))
    assert t.logits.tolist() == [0.0, 1.0, 2.0] and t.emb[0].tolist() == [0, 1, 0]


@pytest.fixture
def tiny_run(tmp_path):
    ck = save_checkpoint(
        tmp_path / "ck",
        create_model("tiny-cnn"),
        {
            "name": "tiny",
            "architecture": "tiny-cnn",
            "preprocess": {"input_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3},
            "face": FaceConfig().to_dict(),
        },
    )
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    framing = FaceConfig().fingerprint()
    rows = []
    kinds = [("real", None), ("fake", "lipsync"), ("fake", "animate")]
    for split, group in (
        ("train", "g1"),
        ("train", "g2"),
        ("val", "g3"),
        ("test", "g4"),
        ("train", "skipme"),
    ):
        for label, method in kinds:
            vid = f"{method or 'real'}/{group}"
            for f in range(6):
                name = f"{vid.replace('/', '_')}_f{f:05d}.png"
                cv2.imwrite(str(data / name), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
                row = {"path": name, "label": label, "method": method, "video_id": vid, "split": split}
                rows.append({**row, "group": group, "aligned": framing})
    manifest = data / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ck, manifest, tmp_path / "out"


def test_train_temporal_head_end_to_end_and_reuses_its_features(tiny_run, monkeypatch):
    ck, manifest, out = tiny_run
    m = train_temporal_head(ck, manifest, out, frames=4, epochs=2, exclude_groups=["skipme"])
    assert m["tracks"]["train"] == {"real": 2, "lipsync": 2, "animate": 2}  # skipme and test left out
    assert m["tracks"]["val"] == {"real": 1, "lipsync": 1, "animate": 1}
    assert set(m["val"]) == {"all", "lipsync", "animate"} and m["val"]["all"]["n_fake"] == 2
    assert all(m["val"]["lipsync"][s] is not None for s in ("head", "mean", "rule"))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["dim"] == 64 and cfg["frames"] == 4 and cfg["options"]["exclude_groups"] == ["skipme"]
    assert (out / "temporal-head.safetensors").is_file() and (out / "metrics.json").is_file()

    def no_model(*_args, **_kwargs):
        raise AssertionError("features should come from the cache")

    monkeypatch.setattr(tt, "build_model", no_model)
    again = train_temporal_head(ck, manifest, out, frames=4, epochs=2, exclude_groups=["skipme"])
    assert again["history"] == m["history"]  # same features, same seed: the same run


def test_cli_prints_the_table_and_fails_in_one_line(tiny_run, tmp_path):
    ck, manifest, out = tiny_run
    runner = CliRunner()
    args = [
        "temporal",
        str(ck),
        "--manifest",
        str(manifest),
        "-o",
        str(out),
        "--frames",
        "4",
        "--epochs",
        "1",
    ]
    res = runner.invoke(app, args + ["--exclude-groups", "skipme,nothere"])
    assert res.exit_code == 0, res.output
    assert "scan rule" in res.stdout and "lipsync" in res.stdout
    res = runner.invoke(
        app, ["temporal", str(tmp_path / "nope"), "--manifest", str(manifest), "-o", str(out)]
    )
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
