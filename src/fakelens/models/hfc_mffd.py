"""HFC-MFFD (Liu et al., "Hierarchical Forgery Classifier on Multi-modality Face Forgery Clues",
IEEE TMM 2023): local hybrid-domain patch features and a hierarchical classifier.

- Nine overlapping patches per face (a 3x3 grid, patch = half the face, stride a quarter).
- Two branches per patch: *RGB* and *frequency* (luminance -> orthonormal 2-D DCT-II -> z-scored per
  coefficient with running statistics, as the released code z-scores with dataset mean/variance).
- A transformer layer over the nine patch tokens of each branch; an auxiliary per-patch classifier.
- Loss ``0.6 * patch BCE (image label on every patch) + 0.4 * image BCE`` per branch
  (the ``Hierarchical`` method below, ``method: {name: hierarchical}``).
- Hierarchical classifier: level 1 real/fake from the branches' logits weighted by learned softmax
  weights; level 2, for fakes, the forgery type (``forward_type``; fakelens's training types are
  0 = self-blend, 1 = ready-made such as GAN faces).
Grayscale and near-infrared faces work as they are: the RGB branch sees three equal channels and the
frequency branch uses luminance only.

Differs from the paper: small CNNs (not two ImageNet ResNet-50s) trained from scratch on a CPU; no
SIFT-at-landmarks branch (dlib 68-point SIFT features need a separate pipeline; left out); the branch
weights are learned jointly with the branches (the paper fits them on validation scores afterwards).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fakelens.models.methods import Method, register_method


def nine_patches(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(N, C, S, S) -> (N, 9, C, P, P) overlapping patches with P = S/2 and stride S/4."""
    n, c, s, _ = x.shape
    p, stride = s // 2, s // 4
    cols = F.unfold(x, kernel_size=p, stride=stride)  # (N, C*P*P, 9)
    return cols.transpose(1, 2).reshape(n, -1, c, p, p), p


def dct_matrix(n: int) -> torch.Tensor:
    """Orthonormal DCT-II basis: ``D @ x @ D.T`` is the 2-D DCT of an n x n block."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


def _cnn(in_ch: int, dim: int) -> nn.Sequential:
    layers, ch = [], in_ch
    for out in (dim // 4, dim // 2, dim, dim):
        layers += [nn.Conv2d(ch, out, 3, 2, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        ch = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


class Branch(nn.Module):
    """Patch CNN -> nine tokens -> transformer layer -> patch, image and forgery-type logits."""

    def __init__(self, in_ch: int, dim: int, num_types: int):
        super().__init__()
        self.cnn = _cnn(in_ch, dim)
        self.pos = nn.Parameter(torch.zeros(1, 9, dim))
        self.encoder = nn.TransformerEncoderLayer(dim, 4, dim * 2, dropout=0.1, batch_first=True)
        self.patch_head = nn.Linear(dim, 1)
        self.image_head = nn.Sequential(nn.Dropout(0.3), nn.Linear(9 * dim, 1))
        self.type_head = nn.Linear(9 * dim, num_types)

    def tokens(self, patches: torch.Tensor) -> torch.Tensor:
        n = patches.shape[0]
        return self.cnn(patches.flatten(0, 1)).view(n, 9, -1)

    def heads(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fused = self.encoder(tokens + self.pos).flatten(1)
        return self.patch_head(tokens).squeeze(-1), self.image_head(fused).squeeze(-1), self.type_head(fused)


class HFCMFFD(nn.Module):
    def __init__(self, input_size: int = 128, dim: int = 64, num_types: int = 2, drop_rate: float = 0.0):
        super().__init__()
        p = input_size // 2
        self.rgb = Branch(3, dim, num_types)
        self.freq = Branch(1, dim, num_types)
        self.register_buffer("dct", dct_matrix(p), persistent=False)
        self.coef_norm = nn.BatchNorm1d(p * p, affine=False)  # per-coefficient z-score
        self.level1 = nn.Parameter(torch.ones(2))  # learned branch weights (softmax)
        self.level2 = nn.Parameter(torch.ones(2))
        self.dim = dim

    def _freq_input(self, patches: torch.Tensor) -> torch.Tensor:
        n, nine, _, p, _ = patches.shape
        lum = 0.299 * patches[:, :, 0] + 0.587 * patches[:, :, 1] + 0.114 * patches[:, :, 2]
        coef = self.dct @ lum @ self.dct.T  # (N, 9, P, P)
        coef = self.coef_norm(coef.reshape(n * nine, p * p)).view(n, nine, 1, p, p)
        return coef

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Both branches' patch tokens as a (N, 2*dim, 3, 3) grid: Grad-CAM gives a patch-level map."""
        patches, _ = nine_patches(x)
        tokens = torch.cat([self.rgb.tokens(patches), self.freq.tokens(self._freq_input(patches))], dim=-1)
        return tokens.transpose(1, 2).reshape(x.shape[0], 2 * self.dim, 3, 3)

    def branch_outputs(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        tokens = features.flatten(2).transpose(1, 2)  # (N, 9, 2*dim)
        outs = [
            b.heads(t) for b, t in zip((self.rgb, self.freq), tokens.split(self.dim, dim=-1), strict=True)
        ]
        patch, image, kind = (torch.stack(v, dim=1) for v in zip(*outs, strict=True))
        return {"patch": patch, "image": image, "type": kind}  # (N,2,9), (N,2), (N,2,T)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        image = self.branch_outputs(features)["image"]
        return image if pre_logits else image @ torch.softmax(self.level1, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_type(self, x: torch.Tensor) -> torch.Tensor:
        """Level 2: forgery-type logits (meaningful for faces that level 1 calls fake)."""
        kind = self.branch_outputs(self.forward_features(x))["type"]
        return (kind * torch.softmax(self.level2, dim=0)[None, :, None]).sum(dim=1)


@register_method("hierarchical", architectures=("hfc-mffd",))
class Hierarchical(Method):
    """0.6 patch + 0.4 image BCE per branch, the fused level-1 BCE and, for fakes, the level-2 forgery
    type from the batch's ``kind`` (1 self-blend -> type 0, 2 ready-made -> type 1)."""

    multi_process = False  # it calls the model's parts (forward_features, head) itself

    def loss(self, model, batch):
        x, y, kind = batch["image"], batch["label"], batch["kind"]
        out = model.branch_outputs(model.forward_features(x))
        patch = F.binary_cross_entropy_with_logits(out["patch"], y[:, None, None].expand_as(out["patch"]))
        image = F.binary_cross_entropy_with_logits(out["image"], y[:, None].expand_as(out["image"]))
        fused = F.binary_cross_entropy_with_logits(out["image"] @ torch.softmax(model.level1, dim=0), y)
        fake = kind > 0
        level2 = (out["type"] * torch.softmax(model.level2, dim=0)[None, :, None]).sum(dim=1)
        types = F.cross_entropy(level2[fake], kind[fake] - 1) if fake.any() else 0.0
        return 0.6 * patch + 0.4 * image + fused + types

    def report(self) -> dict:
        return {
            "name": "hierarchical",
            "patch_weight": 0.6,
            "image_weight": 0.4,
            "types": ["self-blend", "ready-made"],
        }


def hfc_mffd(
    pretrained: bool | str = False,
    drop_rate: float = 0.0,
    input_size: int = 128,
    dim: int = 64,
    num_types: int = 2,
) -> HFCMFFD:
    if pretrained:
        raise ValueError("hfc-mffd is trained from scratch; set model.pretrained: false")
    return HFCMFFD(input_size=input_size, dim=dim, num_types=num_types, drop_rate=drop_rate)
