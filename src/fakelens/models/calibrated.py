"""A trained network with its calibration: ``logit -> scale * logit + bias``.

Temperature scaling (Guo et al., ICML 2017) is ``scale = 1 / T``, ``bias = 0``: it changes how
confident the scores are, never their order (AUC is unchanged), so that a score of 0.9 means about
90 % fake on the validation data it was fitted on. ``build_model`` wraps a checkpoint whose
config.json has ``calibration``; ONNX export and Grad-CAM see the wrapped model.
"""

from __future__ import annotations

import torch
from torch import nn

from fakelens.errors import ConfigError


class Calibrated(nn.Module):
    def __init__(self, net: nn.Module, scale: float = 1.0, bias: float = 0.0):
        super().__init__()
        if getattr(net, "has_video_combination", False):
            # one scale cannot serve two combinations, and the ONNX graph's video outputs would be lost
            raise ConfigError(
                "calibration: an ensemble with a video combination is calibrated by its fit; remove it"
            )
        self.net = net
        self.scale = float(scale)
        self.bias = float(bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        out = self.net.forward_head(features, pre_logits=pre_logits)
        return out if pre_logits else out * self.scale + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.scale + self.bias
