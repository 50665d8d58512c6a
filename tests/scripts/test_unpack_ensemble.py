"""scripts/unpack_ensemble.py: each member of a shipped ensemble as its own checkpoint, scoring exactly
as it does inside the ensemble, so one member can be replaced and the combination refitted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from fakelens.errors import FakelensError
from fakelens.models.checkpoint import build_model, read_config, resolve_checkpoint


@pytest.fixture(scope="module")
def unpack():
    spec = importlib.util.spec_from_file_location("unpack_ensemble", ROOT / "scripts" / "unpack_ensemble.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.unpack


def _raw(folder: Path):
    return build_model({**read_config(folder), "calibration": None}, folder)


def test_members_score_as_inside_the_ensemble(tmp_path, unpack):
    folders = unpack("video-photo-ensemble", tmp_path)
    ensemble = _raw(resolve_checkpoint("video-photo-ensemble"))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        inside = ensemble.member_logits(x)
        for k, folder in enumerate(folders):
            assert torch.equal(_raw(folder)(x), inside[:, k])
    names = [read_config(f)["name"] for f in folders]
    assert names == ["video-lite0-photos", "npr-soft-ffhq-sg2", "probe-lite2-photos"]
    assert read_config(folders[1])["training"]["best_epoch"] >= 1  # its training record came along


def test_a_single_model_is_refused_in_one_line(tmp_path, unpack):
    with pytest.raises(FakelensError, match="not an ensemble"):
        unpack("sbi-effnet-lite0-ffhq", tmp_path)
