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
