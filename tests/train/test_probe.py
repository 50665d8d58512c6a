"""method linear-probe: frozen backbone, a fitted linear head, saved like any checkpoint."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from fakelens.errors import ConfigError
from fakelens.models.detector import load_detector
from fakelens.models.efficientnet import load_lite_imagenet
from fakelens.models.registry import create_model
from fakelens.train.config import TrainConfig
from fakelens.train.loop import train
from fakelens.train.probe import _fold_into_head, fit_linear


@pytest.fixture(scope="module")
def photo_dirs(tmp_path_factory, astronaut):
    """Reals: the astronaut shifted and scaled; fakes: the same with a cold tint (a generator's
    colour bias), which frozen ImageNet features see at once."""
    root = tmp_path_factory.mktemp("probe")
    h, w = astronaut.shape[:2]
    tint = np.array([-30.0, 0.0, 40.0], np.float32)
    for kind in ("real", "fake"):
        (root / kind).mkdir()
        for i in range(16):
            s = 0.6 + 0.02 * i + (0.01 if kind == "fake" else 0)
            m = np.array([[s, 0, 12 * (i % 4)], [0, s, 8 * (i % 3)]], dtype=np.float32)
            img = astronaut.astype(np.float32) + (tint if kind == "fake" else 0)
            img = np.clip(img, 0, 255).astype(np.uint8)
            img = cv2.warpAffine(img, m, (int(w * 0.8), int(h * 0.8)), borderMode=cv2.BORDER_REFLECT)
            cv2.imwrite(str(root / kind / f"{kind}_{i:02d}.png"), np.ascontiguousarray(img[..., ::-1]))
    return root


def _recipe(tmp_path, dirs, **data):
    cfg = {
        "name": "probe-test",
        "out_dir": str(tmp_path / "run"),
        "model": {
            "architecture": "probe-effnet-lite0",
            "pretrained": True,
            "input_size": 96,
            "drop_rate": 0.0,
        },
        "data": {
            "real_dirs": [str(dirs / "real")],
            "fake_dirs": [str(dirs / "fake")],
            "sbi": False,
            "val_fraction": 0.3,
            "test_fraction": 0.0,
            "fake_test_fraction": 0.0,
            "group_by": "file",
            "cache_dir": str(tmp_path / "cache"),
            **data,
        },
        "method": {"name": "linear-probe", "copies": 1, "c_grid": [0.1, 1.0]},
        "face": {"crop": {"size": 96}},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_fold_into_head_reproduces_the_fitted_classifier():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (200, 16)).astype(np.float32)
    y = (x[:, 0] + rng.normal(0, 1, 200) > 3).astype(int)
    clf = fit_linear(x, y, 1.0)
    head = torch.nn.Linear(16, 1)
    _fold_into_head(clf, head)
    with torch.no_grad():
        ours = head(torch.from_numpy(x)).squeeze(1).numpy()
    assert np.allclose(ours, clf.decision_function(x), atol=1e-4)


def test_probe_fits_the_head_only_and_saves_a_loadable_checkpoint(tmp_path, photo_dirs):
    folder = train(TrainConfig.from_yaml(_recipe(tmp_path, photo_dirs)))
    det = load_detector(folder)
    assert 0 <= det.threshold < 1
    reference = create_model("probe-effnet-lite0")
    load_lite_imagenet(reference.backbone, 0)
    ours = load_file(str(folder / "weights.safetensors"))
    for k, v in reference.backbone.state_dict().items():  # the backbone is ImageNet's, untouched
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(ours["backbone." + k], v), k

    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["training"]["method"]["name"] == "linear-probe"
    assert cfg["training"]["method"]["chosen_C"] in (0.1, 1.0)
    assert cfg["metrics"]["val_frame_level"]["auc"] > 0.9  # the tint is visible to it
    assert 0 <= cfg["threshold"] < 1
    assert (tmp_path / "run" / "splits.json").is_file()


def test_probe_refuses_sbi(tmp_path, photo_dirs):
    with pytest.raises(ConfigError, match="data.sbi: false"):
        train(TrainConfig.from_yaml(_recipe(tmp_path, photo_dirs, sbi=True)))


def test_probe_refuses_architectures_without_a_linear_head(tmp_path, photo_dirs):
    path = _recipe(tmp_path, photo_dirs)
    raw = yaml.safe_load(path.read_text())
    raw["model"]["architecture"] = "npr"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="cannot train"):
        TrainConfig.from_yaml(path)
