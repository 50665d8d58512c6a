"""The detector zoo: every family overfits a tiny batch, and the mechanisms their papers name hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakelens.models import create_model
from fakelens.models.calibrated import Calibrated
from fakelens.models.checkpoint import save_checkpoint
from fakelens.models.detector import load_detector
from fakelens.models.npr import npr_residual
from fakelens.train.calibrate import expected_calibration_error, fit_temperature


def _batch(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Four noise images and four 2x2-nearest up-sampled ones (what a generator's last layer leaves)."""
    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 3, size, size, generator=g) * 2 - 1
    small = torch.rand(4, 3, size // 2, size // 2, generator=g) * 2 - 1
    fake = torch.nn.functional.interpolate(small, scale_factor=2.0, mode="nearest")
    return torch.cat([real, fake]), torch.tensor([0.0] * 4 + [1.0] * 4)


def _overfit(
    model: torch.nn.Module, size: int = 64, steps: int = 30, lr: float = 1e-3
) -> tuple[float, float]:
    torch.manual_seed(0)
    x, y = _batch(size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        model.train()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], float(np.mean(losses[-3:]))


@pytest.mark.parametrize(
    ("name", "kwargs", "size", "steps"),
    [
        ("npr", {"width": 0.25}, 64, 30),
        ("tiny-cnn", {}, 64, 30),
        ("xception", {}, 48, 8),
        ("ssaaformer", {"width": 0.5}, 64, 30),
        ("hfc-mffd", {"input_size": 64, "dim": 32}, 64, 30),
        (
            "ensemble",
            {
                "members": [
                    {"architecture": "tiny-cnn"},
                    {"architecture": "npr", "model_kwargs": {"width": 0.25}},
                ]
            },
            64,
            30,
        ),
    ],
)
def test_each_family_overfits_a_tiny_batch_and_depends_on_its_input(name, kwargs, size, steps):
    model = create_model(name, **kwargs)
    first, last = _overfit(model, size, steps)
    assert last < 0.5 * first, f"{name}: loss {first:.3f} -> {last:.3f}"
    x, _ = _batch(size)
    with torch.no_grad():  # batch statistics: a few steps leave BatchNorm's running ones unsettled
        out = model(x)
    assert out.shape == (8,) and out.std() > 1e-3  # different inputs, different scores


def test_npr_residual_is_zero_exactly_on_2x2_nearest_upsampled_images():
    x, y = _batch(32)
    r = npr_residual(x)
    assert r.shape == x.shape
    assert torch.all(r[y == 1] == 0) and r[y == 0].abs().mean() > 0.1
    assert npr_residual(torch.rand(1, 3, 33, 31)).shape == (1, 3, 32, 30)  # odd sizes lose an edge


def test_npr_is_trained_from_scratch():
    with pytest.raises(ValueError, match="from scratch"):
        create_model("npr", pretrained=True)


def test_ensemble_combines_member_logits_and_its_heatmap_path_gives_the_same_score():
    members = [{"architecture": "tiny-cnn"}, {"architecture": "npr", "model_kwargs": {"width": 0.25}}]
    net = create_model("ensemble", members=members, weights=[0.7, -0.2], bias=0.3).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        each = net.member_logits(x)
        assert torch.allclose(net(x), each @ torch.tensor([0.7, -0.2]) + 0.3, atol=1e-6)
        # 64 px: tiny-cnn's grid is 4x4 and NPR's 8x8, so pooling to 4x4 keeps each member's mean
        assert torch.allclose(net.forward_head(net.forward_features(x)), net(x), atol=1e-5)
    fused = create_model("ensemble", members=members, weights=[2.0, 2.0], bias=-1.0, mode="max").eval()
    fused.load_state_dict(
        {**net.state_dict(), "weights": torch.tensor([2.0, 2.0]), "bias": torch.tensor(-1.0)}
    )
    with torch.no_grad():
        assert torch.allclose(fused(x), 2.0 * each.max(dim=1).values - 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown ensemble mode"):
        create_model("ensemble", members=members, mode="vote")
    with pytest.raises(ValueError, match="2 members but 3 weights"):
        create_model("ensemble", members=members, weights=[1.0, 1.0, 1.0])


def test_temperature_scaling_fixes_overconfidence_without_changing_the_order():
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2.0, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(int)  # calibrated by construction
    over = 4.0 * true_logit  # an over-confident model: same ranking, logits 4x too large
    cal = fit_temperature(over, labels)
    assert 3.3 < cal["temperature"] < 4.8
    assert cal["ece_after"] < cal["ece_before"] / 2
    scaled = 1 / (1 + np.exp(-over * cal["scale"]))
    assert expected_calibration_error(labels, scaled) == pytest.approx(cal["ece_after"], abs=1e-3)


def test_a_checkpoint_with_calibration_loads_wrapped_and_scores_scaled(tmp_path, tiny_detector):
    cfg = {"architecture": "tiny-cnn", "preprocess": {"input_size": 64}, "face": tiny_detector.face.to_dict()}
    raw = save_checkpoint(tmp_path / "raw", tiny_detector.model, cfg)
    scaled = save_checkpoint(tmp_path / "scaled", tiny_detector.model, {**cfg, "calibration": {"scale": 0.5}})
    a = load_detector(raw, backend="torch")
    b = load_detector(scaled, backend="torch")
    assert isinstance(b.model, Calibrated)
    crops = [np.random.default_rng(i).integers(0, 255, (96, 96, 3), dtype=np.uint8) for i in range(3)]
    pa, pb = a.predict_proba(crops), b.predict_proba(crops)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert np.allclose(logit(pb), 0.5 * logit(pa), atol=1e-4)
    bad = save_checkpoint(tmp_path / "bad", tiny_detector.model, {**cfg, "calibration": {"scale": "x"}})
    with pytest.raises(Exception, match="calibration needs a numeric 'scale'"):
        load_detector(bad, backend="torch")


def test_acmf_masked_frequency_and_attention_consistency():
    from fakelens.models.acmf import attention_consistency, high_pass, masked_high_frequency, mean_grad_cam

    flat = torch.full((1, 3, 32, 32), 0.3)
    assert high_pass(flat).abs().max() < 1e-5  # a constant image has no high frequencies
    x, _ = _batch(32)
    assert torch.allclose(masked_high_frequency(x, drop=0.0), x, atol=1e-5)  # nothing dropped: x itself
    g = torch.Generator().manual_seed(0)
    m = masked_high_frequency(x, drop=0.5, generator=g)
    changed = (m - x).abs().sum(dim=(0, 1)) > 1e-6
    assert 0.3 < changed.float().mean() < 0.7  # one pixel mask, shared by every image and channel
    model = create_model("tiny-cnn").train()
    teacher = create_model("tiny-cnn").eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    logits, cam = mean_grad_cam(model, m)
    _, target = mean_grad_cam(teacher, x)
    assert logits.shape == (8,) and cam.shape == target.shape == (2, 2) and 0 <= cam.min() <= cam.max() <= 1
    loss = attention_consistency(cam, target)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_lsda_augments_fake_features_reproducibly_and_keeps_their_shape():
    from fakelens.models.lsda import augment_fakes

    feats = torch.randn(64, 16)
    centroid = feats.mean(dim=0)
    a = augment_fakes(feats, centroid, torch.Generator().manual_seed(1))
    b = augment_fakes(feats, centroid, torch.Generator().manual_seed(1))
    assert a.shape == feats.shape and torch.equal(a, b)
    moved = (a - feats).abs().sum(dim=1) > 1e-6
    assert moved.float().mean() > 0.8  # nearly every row is a new point (a mix may pick itself)
    assert (a - feats).abs().mean() < 2 * feats.abs().mean()  # near the forgery region, not anywhere


def test_deepfidelity_targets_and_mirror_fused_shallow_attention():
    from fakelens.models.deepfidelity import LocalAttention, fidelity_targets, sharpness

    q = torch.tensor([0.0, 1.0, 0.0, 1.0, 5.0])
    y = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0])
    t = fidelity_targets(q, y, lo=0.0, hi=1.0)
    # reals in [0, 0.4] (a sharp real nearest 0), fakes in [0.6, 1] (a sharp fake nearest the boundary)
    assert torch.allclose(t, torch.tensor([0.4, 0.0, 1.0, 0.6, 0.6]))
    x, _ = _batch(32)
    assert (
        sharpness(x).shape == (8,)
        and sharpness(x)[0] > sharpness(torch.nn.functional.avg_pool2d(x, 3, 1, 1))[0]
    )
    attn = LocalAttention(8, flip=True).eval()
    with torch.no_grad():  # equal softmax weights at the start: the fused map is mirror-symmetric
        out = attn(torch.randn(2, 8, 16, 16))
    assert torch.allclose(out, torch.flip(out, dims=[-1]), atol=1e-5)


def test_hfc_mffd_patches_dct_hierarchy_and_grayscale():
    from fakelens.models.hfc_mffd import dct_matrix, nine_patches

    d = dct_matrix(8)
    assert torch.allclose(d @ d.T, torch.eye(8), atol=1e-5)  # orthonormal DCT-II
    x = torch.arange(2 * 3 * 64 * 64, dtype=torch.float32).view(2, 3, 64, 64)
    patches, p = nine_patches(x)
    assert patches.shape == (2, 9, 3, 32, 32) and p == 32
    assert torch.equal(patches[0, 4], x[0, :, 16:48, 16:48])  # the centre patch
    model = create_model("hfc-mffd", input_size=64, dim=32).eval()
    gray = torch.rand(2, 1, 64, 64).expand(2, 3, 64, 64)  # a grayscale / NIR face: three equal channels
    with torch.no_grad():
        assert model(gray).shape == (2,) and model.forward_type(gray).shape == (2, 2)
        assert model.forward_features(gray).shape == (2, 64, 3, 3)  # a patch grid for Grad-CAM
