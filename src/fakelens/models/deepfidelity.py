"""DeepFidelity (Peng et al., "DeepFidelity: Perceptual Forgery Fidelity Assessment for Deepfake
Detection", arXiv 2312.04961): fidelity score mapping and the symmetry-aware SSAAFormer idea.

*Fidelity score mapping* (``fidelity_targets``; the ``FidelityRegression`` method below, ``method:
{name: fidelity}``): each training face gets a face-quality score; real faces' scores are min-max scaled
to [0.6, 1] and fakes' to [0, 0.4], and the network *regresses* that score (MSE) instead of a hard
label, so a high-quality fake sits near the boundary and a poor one far from it. fakelens outputs
p(fake), so the regressed target is ``1 - fidelity`` (reals in [0, 0.4], fakes in [0.6, 1]).

*SSAAFormer* (``SSAAFormer``): a hybrid conv/attention backbone (UniFormer-style). In the shallow
stage the local "attention" (1x1 conv -> 5x5 depth-wise conv -> 1x1 conv) is fused with its
horizontal mirror by learned softmax weights ``A' = w1 A + w2 flip(A)`` - faces are nearly symmetric,
and forgeries often break the symmetry. Deeper stages use plain conv blocks, then global
self-attention blocks.

Differs from the paper: the quality measure is no-reference sharpness (log variance of the
Laplacian of the luminance; SER-FIQ's face-recognition model is not reachable offline) with the
min-max bounds taken from the training reals' 1st/99th percentiles; the score is regressed by the
network's own head (the paper fits an SVR on frozen classifier features); and the backbone is a
4-stage network of ~1.5 M parameters trained from scratch on a CPU, not UniFormer-L.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fakelens.models.methods import Method, register_method

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def sharpness(x: torch.Tensor) -> torch.Tensor:
    """(N,) log variance of the Laplacian of the luminance: low for blurry, low-quality faces."""
    lum = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    lap = F.conv2d(lum, _LAPLACE.to(device=x.device, dtype=x.dtype))
    return torch.log(lap.var(dim=(1, 2, 3)) + 1e-8)


def fidelity_targets(quality: torch.Tensor, y: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """p(fake) targets: reals ``0.4 * (1 - s)`` in [0, 0.4], fakes ``1 - 0.4 * s`` in [0.6, 1], where
    ``s`` is the quality min-max scaled by (lo, hi): a better-looking fake sits nearer the boundary."""
    s = ((quality - lo) / max(hi - lo, 1e-6)).clamp(0.0, 1.0)
    fidelity = torch.where(y > 0, 0.4 * s, 0.6 + 0.4 * s)
    return 1.0 - fidelity


@register_method("fidelity")
class FidelityRegression(Method):
    """MSE of p(fake) against quality-mapped targets; the quality bounds come from the training reals
    as they enter the model (unaugmented), once, and are kept for a resume."""

    def __init__(self, options=None, seed: int = 0, epochs: int = 1):
        super().__init__(options, seed, epochs)
        self.bounds: tuple[float, float] | None = None

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        if self.bounds is None:
            q = torch.cat([sharpness(x) for x in dataset.clean_reals()])
            self.bounds = (float(torch.quantile(q, 0.01)), float(torch.quantile(q, 0.99)))

    def loss(self, model, batch):
        x, y = batch["image"], batch["label"]
        target = fidelity_targets(sharpness(x), y, *self.bounds)
        return ((torch.sigmoid(model(x)) - target) ** 2).mean()

    def report(self) -> dict:
        return {"name": "fidelity", "quality": "log variance of the Laplacian", "bounds": self.bounds}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.bounds is None else {"bounds": torch.tensor(self.bounds, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "bounds" in state:
            self.bounds = tuple(float(v) for v in state["bounds"])


class LocalAttention(nn.Module):
    """UniFormer's convolutional "attention": 1x1 -> 5x5 depth-wise -> 1x1; ``flip`` adds the mirror fusion."""

    def __init__(self, dim: int, flip: bool = False):
        super().__init__()
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.flip = flip
        if flip:
            self.mix = nn.Parameter(torch.ones(2))  # softmax -> (w1, w2); equal at the start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.local(self.proj_in(x))
        if self.flip:
            w = torch.softmax(self.mix, dim=0)
            a = w[0] * a + w[1] * torch.flip(a, dims=[-1])
        return self.proj_out(a)


class ConvBlock(nn.Module):
    def __init__(self, dim: int, flip: bool = False, mlp: int = 3):
        super().__init__()
        self.pos = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1, self.attn = nn.BatchNorm2d(dim), LocalAttention(dim, flip)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, dim * mlp, 1), nn.GELU(), nn.Conv2d(dim * mlp, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos(x)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class AttentionBlock(nn.Module):
    def __init__(self, dim: int, heads: int = 4, mlp: int = 3):
        super().__init__()
        self.pos = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1, self.attn = nn.LayerNorm(dim), nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp), nn.GELU(), nn.Linear(dim * mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos(x)
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        q = self.norm1(t)
        t = t + self.attn(q, q, q, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2).reshape(n, c, h, w)


class SSAAFormer(nn.Module):
    """Stem /4 -> flip-fused conv blocks -> conv blocks -> attention blocks x2 stages -> one logit."""

    def __init__(self, dims=(32, 64, 128, 192), depths=(2, 2, 2, 1), drop_rate: float = 0.1):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, dims[0] // 2, 3, 2, 1), nn.BatchNorm2d(dims[0] // 2), nn.GELU(),
            nn.Conv2d(dims[0] // 2, dims[0], 3, 2, 1), nn.BatchNorm2d(dims[0]),
        )  # fmt: skip
        stages = []
        for i, (dim, depth) in enumerate(zip(dims, depths, strict=True)):
            down = (
                nn.Identity()
                if i == 0
                else nn.Sequential(nn.Conv2d(dims[i - 1], dim, 2, 2), nn.BatchNorm2d(dim))
            )
            if i < 2:
                blocks = [
                    ConvBlock(dim, flip=(i == 0)) for _ in range(depth)
                ]  # symmetry in the shallow stage
            else:
                blocks = [AttentionBlock(dim) for _ in range(depth)]
            stages.append(nn.Sequential(down, *blocks))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(dims[-1])
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(dims[-1], 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.stages(self.stem(x)))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.head(self.drop(pooled)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def ssaaformer(pretrained: bool | str = False, drop_rate: float = 0.1, width: float = 1.0) -> SSAAFormer:
    if pretrained:
        raise ValueError("ssaaformer is trained from scratch; set model.pretrained: false")
    dims = tuple(max(16, int(d * width)) // 16 * 16 for d in (32, 64, 128, 192))
    return SSAAFormer(dims=dims, drop_rate=drop_rate)
