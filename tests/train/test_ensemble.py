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


def test_family_weights_give_every_fake_family_an_equal_share():
    from fakelens.train.ensemble import family_weights

    families = np.array(["real"] * 100 + ["self-blend"] * 80 + ["GPEN"] * 5 + ["lipsync"] * 15)
    w = family_weights(families)
    assert np.isclose(w.mean(), 1.0)
    total = {f: w[families == f].sum() for f in set(families)}
    assert np.isclose(total["real"], total["self-blend"] + total["GPEN"] + total["lipsync"])
    assert np.isclose(total["GPEN"], total["self-blend"]) and np.isclose(total["GPEN"], total["lipsync"])
    sources = np.array(["ffhq"] * 10 + ["video"] * 90 + ["x"] * 100)
    w = family_weights(families, sources)
    assert np.isclose(w[sources == "ffhq"].sum(), w[(sources == "video") & (families == "real")].sum())
    assert np.isclose(w[families == "real"].sum(), w[families != "real"].sum())


def test_a_family_balanced_max_fit_lets_a_rare_family_s_specialist_count():
    """600 SBI pairs beside 30 GAN faces: unweighted, the fit serves the SBI member and the GAN
    member's noisy reals push its offset down; weighed by family, the GAN faces are found better."""
    from fakelens.train.ensemble import family_weights, per_family_auc

    rng = np.random.default_rng(0)
    families = np.array(["real"] * 600 + ["self-blend"] * 600 + ["GAN"] * 30)
    a = rng.normal(0, 1, len(families)) + 3.0 * (families == "self-blend")
    b = 1.5 * rng.normal(0, 1, len(families)) + 4.0 * (families == "GAN")
    logits, labels = np.stack([a, b], axis=1), (families != "real").astype(int)
    aucs = {}
    for balance, weights in (("none", None), ("family", family_weights(families))):
        fit = fit_combination(logits, labels, "max", weights)
        fused = (logits * fit["weights"] + fit["offsets"]).max(axis=1)
        aucs[balance] = per_family_auc(families, labels, logits, fused)
    assert aucs["family"]["GAN"]["combined"] > aucs["none"]["GAN"]["combined"] + 0.03
    assert aucs["family"]["self-blend"]["combined"] > aucs["none"]["self-blend"]["combined"] - 0.03
    assert aucs["none"]["GAN"]["members"][1] > 0.9 and aucs["none"]["GAN"]["fakes"] == 30


def test_average_refuses_a_family_balance():
    logits, labels = _specialists()
    with pytest.raises(ConfigError, match="balance"):
        fit_combination(logits, labels, "average", np.ones(len(labels)))


def test_a_family_balance_with_average_is_refused_when_the_config_is_read(tmp_path):
    from fakelens.train.ensemble import EnsembleConfig

    path = tmp_path / "ens.yaml"
    path.write_text(
        "name: e\nout_dir: out\nmembers: [a, b]\nmode: average\nbalance: family\ndata: {real_dirs: [reals]}\n"
    )
    with pytest.raises(ConfigError, match="balance needs mode"):
        EnsembleConfig.from_yaml(path)


def test_kind_weights_split_each_forgery_kind_equally_among_its_families():
    from fakelens.train.ensemble import family_weights

    families = np.array(
        ["real"] * 100 + ["self-blend"] * 50 + ["StyleGAN1"] * 5 + ["SFHQ"] * 45 + ["Stable Diffusion"] * 10
    )
    w = family_weights(families, by_kind=True)
    total = {f: w[families == f].sum() for f in set(families)}
    gan = total["StyleGAN1"] + total["SFHQ"]
    assert np.isclose(gan, total["self-blend"]) and np.isclose(gan, total["Stable Diffusion"])
    assert np.isclose(total["StyleGAN1"], total["SFHQ"])
    assert np.isclose(total["real"], sum(v for f, v in total.items() if f != "real"))
