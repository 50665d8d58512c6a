"""Grad-CAM heat maps (Selvaraju et al., 2017) on the last feature map: where in the face crop the
evidence for "fake" sits. Computed only for the few faces a report shows."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from fakelens.models.detector import Detector
from fakelens.models.torch_backend import uses_video_combination


def grad_cam(detector: Detector, crop: np.ndarray, kind: str = "image") -> np.ndarray:
    """(H, W) float32 map in [0, 1] at the crop's resolution; needs ``forward_features``/``forward_head``.
    ``kind``: the media kind the face came from, so a video's face is explained by the combination
    that scored it (an ensemble's video combination)."""
    model = detector.model
    x = detector.preprocess.to_tensor([crop])
    with torch.enable_grad():
        feats = model.forward_features(x).detach().requires_grad_(True)
        video = uses_video_combination(model, kind)
        logit = (model.forward_head(feats, video=True) if video else model.forward_head(feats))[0]
        (grad,) = torch.autograd.grad(logit, feats)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * feats).sum(1))[0].detach().numpy()
    if cam.max() > 0:
        cam = cam / cam.max()
    return cv2.resize(cam.astype(np.float32), (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)


def overlay(crop: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Jet-coloured heat map blended over an RGB crop."""
    heat = cv2.applyColorMap(np.uint8(255 * cam), cv2.COLORMAP_JET)[..., ::-1]
    return np.clip((1 - alpha) * crop + alpha * heat, 0, 255).astype(np.uint8)
