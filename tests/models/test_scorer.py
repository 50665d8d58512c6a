"""Every backend is a ``Scorer`` by composition: torch, ONNX Runtime and test-time adaptation agree on
the protocol, ONNX and torch agree on scores and features, and no backend subclasses another."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakelens.errors import FakelensError
from fakelens.evaluate.tta import AttentionConsistencyTTA
from fakelens.faces import FaceConfig
from fakelens.models.detector import Detector
from fakelens.models.loading import load_detector
from fakelens.models.onnx_backend import ONNX_FILE, OnnxScorer, export_onnx
from fakelens.models.scorer import FeaturesUnavailable, Scorer
from fakelens.models.torch_backend import TorchScorer
from fakelens.preprocess import Preprocess

ATOL = 1e-4


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FAKELENS_CACHE", str(tmp_path_factory.getbasetemp() / "fakelens-cache"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, make_tiny_checkpoint):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("scorer") / "ck", threshold=0.4)


def _crops(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(n)]


def test_backends_are_scorers_by_composition_not_subclasses(checkpoint):
    ref = load_detector(checkpoint, backend="torch")
    onnx = load_detector(checkpoint, backend="onnx")
    tta = AttentionConsistencyTTA.wrap(ref, [(c, c) for c in _crops(2)])
    assert Detector is TorchScorer and type(ref) is TorchScorer and type(onnx) is OnnxScorer
    assert not issubclass(OnnxScorer, TorchScorer) and not issubclass(AttentionConsistencyTTA, TorchScorer)
    for s in (ref, onnx, tta):
        assert isinstance(s, Scorer)
        assert s.framing == s.face == FaceConfig() and s.threshold == 0.4 and s.preprocess == Preprocess(64)
        assert s.config["architecture"] == "tiny-cnn" and s.batch_size >= 1
    assert (ref.backend, onnx.backend, tta.backend) == ("torch", "onnx", "torch")
    assert tta.name == "tiny+tta-acmf" and tta.model is ref.model  # it holds the trained scorer
    assert not isinstance(str(checkpoint), Scorer) and not isinstance(ref.model, Scorer)


def test_torch_and_onnx_agree_on_scores_and_features(checkpoint):
    ref = load_detector(checkpoint, backend="torch")
    onnx = load_detector(checkpoint, backend="onnx")
    crops = _crops(5)
    p = ref.predict_proba(crops)
    assert p.shape == (5,) and p.dtype == np.float32
    assert np.abs(onnx.predict_proba(crops) - p).max() < ATOL
    feats = ref.features(crops)
    assert feats.shape == (5, 64) and feats.dtype == np.float32
    with torch.inference_mode():  # the features are what the head turns into the logit
        logits = ref.model.head(torch.from_numpy(feats)).squeeze(1)
    assert np.abs(torch.sigmoid(logits).numpy() - p).max() < 1e-5
    assert onnx._torch is None  # scoring never loads PyTorch ...
    assert np.abs(onnx.features(crops) - feats).max() < 1e-5  # ... features do, from the same weights
    assert onnx._torch is not None and onnx.model is onnx.torch_scorer.model
    for s in (ref, onnx):
        assert s.predict_proba([]).shape == (0,) and s.features([]).shape == (0, 0)


def test_batching_never_changes_a_score(checkpoint):
    ref = load_detector(checkpoint, backend="torch")
    crops = _crops(7, seed=1)
    one = TorchScorer(ref.model, ref.preprocess, ref.face, batch_size=1)
    three = TorchScorer(ref.model, ref.preprocess, ref.face, batch_size=3)
    assert np.allclose(one.predict_proba(crops), three.predict_proba(crops), atol=1e-6)
    assert np.allclose(one.features(crops), three.features(crops), atol=1e-5)


def test_a_backend_without_features_says_so_in_one_line(checkpoint, tmp_path):
    export_onnx(checkpoint, tmp_path / "only-onnx")
    onnx_only = load_detector(tmp_path / "only-onnx", backend="onnx")
    assert (tmp_path / "only-onnx" / ONNX_FILE).is_file() and not onnx_only.can_explain
    with pytest.raises(FeaturesUnavailable, match="no feature output") as err:
        onnx_only.features(_crops(1))
    assert isinstance(err.value, NotImplementedError) and isinstance(err.value, FakelensError)
    assert "\n" not in str(err.value) and "tiny" in str(err.value)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1), torch.nn.Flatten(0))
    plain = TorchScorer(net, Preprocess(8), FaceConfig())
    assert plain.predict_proba(_crops(2)).shape == (2,)  # it scores ...
    with pytest.raises(FeaturesUnavailable, match="Sequential has no forward_features"):
        plain.features(_crops(1))  # ... but has no feature/head split


def test_tta_features_come_from_the_adapted_copy(tiny_detector):
    crops = _crops(3, seed=2)
    tta = AttentionConsistencyTTA.wrap(tiny_detector, [(c, c[::-1].copy()) for c in _crops(2)], lr=1e-2)
    adapted = tta.features(crops)
    assert adapted.shape == tiny_detector.features(crops).shape
    assert not np.allclose(adapted, tiny_detector.features(crops), atol=1e-6)
    assert np.allclose(tta.features(crops), adapted)  # the same batch, the same adaptation


def test_tta_refuses_the_onnx_backend(checkpoint):
    with pytest.raises(ValueError, match="needs the torch backend"):
        AttentionConsistencyTTA.wrap(load_detector(checkpoint, backend="onnx"), [])


def test_a_scorer_without_a_kind_argument_is_called_as_before():
    import numpy as np

    from fakelens.models.scorer import predict_for_kind

    class Old:
        def predict_proba(self, crops):
            return np.full(len(crops), 0.25, np.float32)

    class New:
        def predict_proba(self, crops, kind="image"):
            return np.full(len(crops), 0.75 if kind == "video" else 0.5, np.float32)

    crops = [np.zeros((8, 8, 3), np.uint8)] * 2
    assert predict_for_kind(Old(), crops, "video").tolist() == [0.25, 0.25]
    assert predict_for_kind(New(), crops, "video").tolist() == [0.75, 0.75]
    assert predict_for_kind(New(), crops, "image").tolist() == [0.5, 0.5]
