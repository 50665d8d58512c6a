"""A frozen ImageNet EfficientNet-Lite read at every stage, for a linear probe (``linear-probe``).

UnivFD probes a pretrained network's last layer only. Forgery traces are partly low-level, so this
probe reads the mean of every block stage's output (Lite2: 856 channels over 7 stages), with or
without the final 1x1 layer's 1280 (``last_layer``). On issue 12's leave-one-generator-out folds
(a first, throwaway split; docs/benchmarks.md) the mean AUC over six held-out families was 0.82 for
the last layer alone, 0.83 with the stages beside it and 0.88 for the stages alone (Stable
Diffusion held out: 0.52 / 0.44 / 0.62): the last layer's semantics ("a clean studio portrait")
transfer worst, so the shipped recipe leaves it out.
``forward_features`` returns every stage average-pooled onto the last stage's grid and stacked
along channels (exact: the stage grids divide it at 224 px), so the global mean ``forward_head``
takes is each stage's global mean, ensembles pool it like any member and Grad-CAM reads it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fakelens.models.efficientnet import ForgeryClassifier, load_lite_imagenet


def _pool_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Average-pool ``x`` onto ``like``'s grid: a fixed kernel where the sizes divide (ONNX exports
    it; adaptive pooling it refuses), adaptive pooling otherwise."""
    (h, w), (gh, gw) = (int(v) for v in x.shape[-2:]), (int(v) for v in like.shape[-2:])
    if h % gh == 0 and w % gw == 0:
        return F.avg_pool2d(x, kernel_size=(h // gh, w // gw))
    return F.adaptive_avg_pool2d(x, (gh, gw))


class StageProbe(ForgeryClassifier):
    """The classifier's pooled head over every stage's mean (``forward_features`` differs only)."""

    def __init__(self, variant: int = 2, drop_rate: float = 0.0, last_layer: bool = True):
        import timm

        backbone = timm.create_model(
            f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=0, global_pool=""
        )
        last = [stage[-1] for stage in backbone.blocks]  # inverted residual or depthwise-separable
        stage_channels = sum((getattr(b, "conv_pwl", None) or b.conv_pw).out_channels for b in last)
        super().__init__(backbone, stage_channels + (backbone.num_features if last_layer else 0), drop_rate)
        self.num_features = self.head.in_features
        self.last_layer = last_layer
        self.variant = variant

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        x = b.bn1(b.conv_stem(x))
        stages = []
        for stage in b.blocks:
            x = stage(x)
            stages.append(x)
        if not self.last_layer:
            return torch.cat([_pool_to(s, x) for s in stages], dim=1)
        final = b.bn2(b.conv_head(x))
        return torch.cat([*(_pool_to(s, final) for s in stages), final], dim=1)


def _probe(variant: int, pretrained: bool, drop_rate: float, last_layer: bool) -> StageProbe:
    model = StageProbe(variant, drop_rate, last_layer)
    if pretrained:
        load_lite_imagenet(model.backbone, variant)
    return model


def probe_effnet_lite2(
    pretrained: bool = False, drop_rate: float = 0.0, last_layer: bool = True
) -> StageProbe:
    return _probe(2, pretrained, drop_rate, last_layer)


def probe_effnet_lite0(
    pretrained: bool = False, drop_rate: float = 0.0, last_layer: bool = True
) -> StageProbe:
    return _probe(0, pretrained, drop_rate, last_layer)
