"""ACMF's test-time adaptation: opt-in, adapts per batch, never changes the trained model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakelens.cli import app
from fakelens.evaluate.tta import AttentionConsistencyTTA, source_pairs


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory, astronaut):
    d = tmp_path_factory.mktemp("tta-source")
    for i, s in enumerate((0.8, 0.9, 1.0)):
        img = cv2.resize(astronaut, None, fx=s, fy=s)
        cv2.imwrite(str(d / f"real_{i}.png"), np.ascontiguousarray(img[..., ::-1]))
    return d


def test_tta_adapts_each_batch_from_the_trained_weights(tiny_detector, source_dir):
    pairs = source_pairs(source_dir, tiny_detector.face)
    assert len(pairs) == 3 and pairs[0][0].shape == pairs[0][1].shape
    before = {k: v.clone() for k, v in tiny_detector.model.state_dict().items()}
    tta = AttentionConsistencyTTA.wrap(tiny_detector, pairs, steps=2, lr=1e-2)
    crops = [np.random.default_rng(i).integers(0, 255, (224, 224, 3), dtype=np.uint8) for i in range(4)]
    adapted = tta.predict_proba(crops)
    assert adapted.shape == (4,) and np.all((adapted >= 0) & (adapted <= 1))
    assert not np.allclose(adapted, tiny_detector.predict_proba(crops), atol=1e-6)  # it did adapt
    assert np.allclose(tta.predict_proba(crops), adapted)  # the same batch, the same result
    after = tiny_detector.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the trained model is untouched
    assert tta.tta_report["mode"] == "acmf" and "unlabelled test batch" in tta.tta_report["note"]


def test_tta_needs_a_source_folder(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nx.png,real\n")
    result = CliRunner().invoke(app, ["evaluate", str(manifest), "--tta", "acmf"])
    assert result.exit_code != 0 and "--tta-source" in result.output


def test_tta_source_from_a_run_uses_its_training_reals_only(tmp_path, tiny_detector, source_dir):
    """README's example once adapted against a whole FFHQ folder, test identities included: a run
    folder (its splits.json) gives the training share and nothing else."""
    import json

    files = sorted(source_dir.iterdir())
    held_out = tmp_path / "held-out.png"
    held_out.write_bytes(b"not an image: reading it would fail")
    splits = {"format": "fakelens-splits-2", "rule": {}, "reals": {"train": [str(f) for f in files]}}
    splits["reals"]["dev"] = [str(held_out)]
    (tmp_path / "splits.json").write_text(json.dumps(splits))
    assert len(source_pairs(tmp_path, tiny_detector.face)) == len(
        source_pairs(source_dir, tiny_detector.face)
    )
