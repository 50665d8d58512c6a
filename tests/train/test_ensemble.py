import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from fakelens.errors import ConfigError
from fakelens.models import create_model
from fakelens.train.ensemble import fit_combination, member_wins


def _specialists(n: int = 600, seed: int = 0):
    """Two detectors, each sure only of its own forgery kind, on different logit scales: A's logits
    are small and centred, B's are large and shifted (B calls every real face mildly fake)."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)  # 0 real, 1 blend, 2 GAN
    a = rng.normal(0, 1, n) + 3.0 * (kind == 1)
    b = 4.0 * (rng.normal(0, 1, n) + 3.0 * (kind == 2)) + 6.0
    return np.stack([a, b], axis=1), (kind > 0).astype(int)


def test_max_fits_each_member_its_own_scale_and_offset():
    logits, labels = _specialists()
    fit = fit_combination(logits, labels, "max")
    assert fit["weights"][0] != fit["weights"][1]  # one shared scale cannot put A and B on one footing
    assert (fit["weights"] > 0).all() and min(member_wins(logits, fit)) > 50  # both specialists count
    fused = (logits * fit["weights"] + fit["offsets"]).max(axis=1) + fit["bias"]
    shared = logits.max(axis=1)  # the plain max (any shared Platt scaling ranks alike)
    assert roc_auc_score(labels, fused) > roc_auc_score(labels, shared) + 0.05
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression().fit(shared[:, None], labels).predict_proba(shared[:, None])[:, 1]
    assert log_loss(labels, sig(fused)) < log_loss(labels, platt)
    # on fresh data from the same detectors, the fit still holds (4 numbers from 600 samples)
    test_logits, test_labels = _specialists(seed=1)
    fresh = (test_logits * fit["weights"] + fit["offsets"]).max(axis=1)
    assert roc_auc_score(test_labels, fresh) > roc_auc_score(test_labels, test_logits.max(axis=1)) + 0.05


def test_max_refuses_members_whose_largest_logit_says_real_for_fakes():
    logits, labels = _specialists()
    with pytest.raises(ConfigError, match="use mode: stack"):
        fit_combination(-logits, labels, "max")


def test_ensemble_network_applies_the_fitted_offsets():
    members = [{"architecture": "tiny-cnn"}, {"architecture": "tiny-cnn"}]
    net = create_model("ensemble", members=members, weights=[1.0, 0.5], mode="max", offsets=[0.0, 2.0]).eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        each = net.member_logits(x)
        expected = torch.maximum(each[:, 0], 0.5 * each[:, 1] + 2.0)
        assert torch.allclose(net(x), expected, atol=1e-6)
    assert "offsets" not in net.state_dict()  # config.json carries them: older ensemble files still load


def test_a_max_ensemble_with_offsets_round_trips_through_its_checkpoint_and_onnx(tmp_path, tiny_detector):
    from fakelens.models.checkpoint import save_checkpoint
    from fakelens.models.detector import load_detector

    members = [{"architecture": "tiny-cnn"}, {"architecture": "tiny-cnn"}]
    kwargs = {"members": members, "mode": "max", "offsets": [0.5, -1.5]}
    net = create_model("ensemble", weights=[1.0, 3.0], **kwargs).eval()
    cfg = {
        "architecture": "ensemble",
        "model_kwargs": kwargs,
        "preprocess": {"input_size": 64},
        "face": tiny_detector.face.to_dict(),
    }
    folder = save_checkpoint(tmp_path / "ens", net, cfg)
    det = load_detector(folder, backend="torch")
    assert det.model.offsets.tolist() == [0.5, -1.5]  # from config.json, not the weights file
    crops = [np.random.default_rng(i).integers(0, 255, (96, 96, 3), dtype=np.uint8) for i in range(3)]
    x = det.preprocess.to_tensor(crops)
    with torch.no_grad():
        each = net.member_logits(x)
        expected = torch.sigmoid(torch.maximum(each[:, 0] + 0.5, 3.0 * each[:, 1] - 1.5)).numpy()
    assert np.allclose(det.predict_proba(crops), expected, atol=1e-5)
    assert np.allclose(load_detector(folder, backend="onnx").predict_proba(crops), expected, atol=1e-4)
