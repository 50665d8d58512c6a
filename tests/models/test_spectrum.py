"""The spectrum probe: its profile is the ring-averaged power spectrum, blind to exposure and contrast,
it tells up-sampled faces from camera-like ones, and it exports to ONNX without an FFT operator."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fakelens.faces import FaceConfig
from fakelens.metrics import binary_metrics
from fakelens.models.checkpoint import save_checkpoint
from fakelens.models.registry import create_model


def _numpy_profile(grey: np.ndarray, bins: int = 48, reference: int = 4) -> np.ndarray:
    """Durall et al.'s azimuthal average, written the textbook way (shifted FFT, radius from the centre)."""
    n = grey.shape[0]
    g = (grey - grey.mean()) * np.outer(np.hanning(n), np.hanning(n))
    power = np.abs(np.fft.fftshift(np.fft.fft2(g))) ** 2
    yy, xx = np.indices(power.shape)
    ring = np.minimum((np.hypot(yy - n // 2, xx - n // 2) / (n / 2) * bins).astype(int), bins)
    prof = (
        np.bincount(ring.ravel(), power.ravel(), bins + 1)[:bins]
        / np.bincount(ring.ravel(), None, bins + 1)[:bins]
    )
    log = np.log(prof + 1e-8)
    return log - log[:reference].mean()


def test_profile_is_the_ring_averaged_power_spectrum_of_the_grey_image():
    model = create_model("spectrum-probe").eval()
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        got = model.profile(x).numpy()
    grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1).double().numpy()
    want = np.stack([_numpy_profile(g) for g in grey])
    assert np.abs(got - want).max() < 1e-4


def test_exposure_and_contrast_do_not_move_the_profile():
    model = create_model("spectrum-probe").eval()
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model.profile(x), model.profile(0.4 * x - 0.3), atol=1e-4)


def _camera_like(rng) -> np.ndarray:
    """1/f noise with sensor grain: a spectrum that decays smoothly to the Nyquist frequency."""
    f = np.fft.fftfreq(224)
    radius = np.hypot(f[:, None], f[None, :])
    radius[0, 0] = 1.0
    spec = (rng.normal(size=(224, 224)) + 1j * rng.normal(size=(224, 224))) / radius
    img = np.real(np.fft.ifft2(spec))
    img = (img - img.mean()) / img.std() * 40 + 128 + rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _as_input(grey: np.ndarray) -> torch.Tensor:
    rgb = np.repeat(grey[None].astype(np.float32), 3, axis=0)
    return torch.from_numpy((rgb / 255 - 0.5) / 0.5)


def test_a_linear_head_on_the_profile_tells_up_sampled_images_from_camera_like_ones():
    """A generator renders at low resolution and up-samples: held-out images, AUC ~1."""
    rng = np.random.default_rng(0)
    model = create_model("spectrum-probe").eval()
    camera = [_camera_like(rng) for _ in range(40)]
    upsampled = [
        cv2.resize(cv2.resize(_camera_like(rng), (112, 112), interpolation=cv2.INTER_AREA), (224, 224))
        for _ in range(40)
    ]
    with torch.no_grad():
        feats = model.profile(torch.stack([_as_input(g) for g in camera + upsampled])).numpy()
    y = np.r_[np.zeros(40), np.ones(40)].astype(int)
    train = np.r_[np.arange(0, 20), np.arange(40, 60)]
    test = np.r_[np.arange(20, 40), np.arange(60, 80)]
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(feats[train], y[train])
    assert binary_metrics(y[test], clf.decision_function(feats[test]))["auc"] > 0.95


def test_weights_file_holds_the_head_only_and_other_sizes_are_resized():
    model = create_model("spectrum-probe").eval()
    assert set(model.state_dict()) == {"head.weight", "head.bias"}
    with torch.no_grad():
        assert model(torch.randn(2, 3, 100, 100)).shape == (2,)
        feats = model.forward_features(torch.randn(1, 3, 224, 224))
    assert feats.shape == (1, model.num_features, 7, 7)
    assert model.forward_head(feats, pre_logits=True).shape == (1, 48)


def test_bad_reference_bins_are_refused():
    from fakelens.models.spectrum import SpectrumProbe

    with pytest.raises(ValueError, match="reference_bins"):
        SpectrumProbe(bins=4, reference_bins=4)


def test_onnx_export_matches_torch(tmp_path):
    from fakelens.models.detector import load_detector
    from fakelens.models.onnx_backend import export_onnx

    torch.manual_seed(0)
    net = create_model("spectrum-probe")
    cfg = {
        "name": "spectrum",
        "architecture": "spectrum-probe",
        "model_kwargs": {},
        "preprocess": {"input_size": 224, "mean": [0.5] * 3, "std": [0.5] * 3},
        "face": FaceConfig().to_dict(),
        "threshold": 0.5,
    }
    folder = save_checkpoint(tmp_path / "ck", net, cfg)
    onnx_file = export_onnx(folder, tmp_path / "onnx")
    crops = [np.random.default_rng(i).integers(0, 256, (224, 224, 3), dtype=np.uint8) for i in range(3)]
    want = load_detector(folder, backend="torch").predict_proba(crops)
    got = load_detector(onnx_file.parent, backend="onnx").predict_proba(crops)
    assert np.abs(got - want).max() < 1e-4
