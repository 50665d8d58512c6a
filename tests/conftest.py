"""Shared fixtures: demo inputs shipped in the repo, and ../shared/data when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from fakelens.media import load_image

    return load_image(DEMO / "astronaut.png")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "ffhq-real").is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


@pytest.fixture(scope="session")
def default_detector():
    from fakelens.models.detector import load_detector

    return load_detector()


@pytest.fixture(scope="session")
def face_pipeline():
    from fakelens.faces import FacePipeline

    return FacePipeline()


@pytest.fixture(scope="session")
def tiny_detector():
    """A fast untrained detector: scan/evaluate mechanics do not depend on the model's skill."""
    import torch

    from fakelens.faces import FaceConfig
    from fakelens.models import create_model
    from fakelens.models.detector import Detector, Preprocess

    torch.manual_seed(0)
    return Detector(create_model("tiny-cnn"), Preprocess(64), FaceConfig(), threshold=0.5, name="tiny")


@pytest.fixture(scope="session")
def make_tiny_checkpoint():
    """``make(folder, seed=0, size=64, threshold=0.5)``: a saved tiny-cnn checkpoint with non-trivial
    BatchNorm statistics (so folding them in an export is exercised)."""
    import torch

    from fakelens.faces import FaceConfig
    from fakelens.models import create_model
    from fakelens.models.checkpoint import save_checkpoint

    def make(folder, seed: int = 0, size: int = 64, threshold: float = 0.5):
        torch.manual_seed(seed)
        net = create_model("tiny-cnn")
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        cfg = {
            "name": "tiny",
            "architecture": "tiny-cnn",
            "model_kwargs": {},
            "preprocess": {"input_size": size, "mean": [0.5] * 3, "std": [0.5] * 3},
            "face": FaceConfig().to_dict(),
            "threshold": threshold,
        }
        return save_checkpoint(folder, net, cfg)

    return make


@pytest.fixture(scope="session", autouse=True)
def _private_onnx_cache(tmp_path_factory):
    """ONNX exports made by tests go to a temporary cache, not the user's ~/.cache/fakelens."""
    import os

    old = os.environ.get("FAKELENS_CACHE")
    os.environ["FAKELENS_CACHE"] = str(tmp_path_factory.mktemp("fakelens-cache"))
    yield
    if old is None:
        os.environ.pop("FAKELENS_CACHE", None)
    else:
        os.environ["FAKELENS_CACHE"] = old
