"""NPR: neighbouring-pixel relationships (Tan et al., "Rethinking the Up-Sampling Operations in
CNN-based Generative Network for Generalizable Deepfake Detection", CVPR 2024).

Generators up-sample, and up-sampling leaves fixed relations between the pixels of each 2x2 block.
NPR feeds the network the residual ``x - up(down(x))`` with 2x2 nearest resampling (what is left
after copying one pixel of each block over the block) and classifies it with a *truncated* ResNet-50
(a 3x3 stride-2 stem, max-pool, Bottleneck stages 1 and 2 only, 512-d pooled feature, one logit),
trained from scratch with BCE.

Differs from the paper: it sees aligned *face crops* (fakelens's shared face framing), not random
224 px crops of whole images, because scan scores faces; the crop is warped from the photo, which
blurs some up-sampling traces, so on a GAN the model also learns what else separates the crops.
The paper trains on ProGAN's four LSUN classes; fakelens has no generator offline and trains on
StyleGAN2 faces (``configs/models/npr.yaml``), so StyleGAN2 is a *seen generator* for it (held-out
images only). ``width`` (default 1.0 = the paper) narrows every stage for CPU budgets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """``x - up(down(x))`` with 2x2 nearest resampling; odd sizes lose their last row/column."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    return x - F.interpolate(
        F.interpolate(x, scale_factor=0.5, mode="nearest"), scale_factor=2.0, mode="nearest"
    )


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> tuple[nn.Sequential, int]:
    out = planes * Bottleneck.expansion
    down = None
    if stride != 1 or inplanes != out:
        down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    layers = [Bottleneck(inplanes, planes, stride, down)]
    layers += [Bottleneck(out, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers), out


class NPRNet(nn.Module):
    """NPR residual -> stem -> ResNet-50 stages 1-2 -> global pool -> one logit of p(fake)."""

    def __init__(self, width: float = 1.0, drop_rate: float = 0.0):
        super().__init__()
        stem = max(8, int(64 * width))
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.layer1, ch = _stage(stem, max(4, int(64 * width)), 3, 1)
        self.layer2, ch = _stage(ch, max(8, int(128 * width)), 4, 2)
        self.num_features = ch
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(ch, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # the paper scales the residual by 2/3 before the stem; kept for parity
        return self.layer2(self.layer1(self.stem(npr_residual(x) * (2.0 / 3.0))))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.head(self.drop(pooled)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def npr(pretrained: bool | str = False, drop_rate: float = 0.0, width: float = 1.0) -> NPRNet:
    """The paper's network (trained from scratch: there are no ImageNet weights to start from)."""
    if pretrained:
        raise ValueError("npr is trained from scratch; set model.pretrained: false")
    return NPRNet(width=width, drop_rate=drop_rate)
