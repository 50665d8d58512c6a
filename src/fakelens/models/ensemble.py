"""Several detectors as one network: ``logit = sum_k w_k * logit_k + b`` (``stack``, ``average``) or
``logit = max_k (w_k * logit_k + c_k) + b`` (``max``: fake when any member says so, for specialists
such as a blend detector and a GAN detector, each blind to the other's forgeries).

Members see the same input (they must share the face framing and preprocessing). The weights come
from ``fakelens ensemble`` (``train/ensemble.py``): *stacking* fits ``w, b`` by logistic regression on
the members' validation logits, which also calibrates the result; *averaging* uses ``w_k = 1/K`` (the
mean logit) followed by temperature scaling; *max* gives each member its own scale and offset
(``w_k``, ``c_k``: each specialist's logit on one scale of evidence before the largest is taken),
fitted by L2-penalised log-loss on the same data. One module means one safetensors file, one ONNX
graph and Grad-CAM for free: ``forward_features`` pools each member's feature map to the coarsest
member's grid (exact for mean-pooling heads when the sizes divide) and ``forward_head`` splits the
channels back.

``video``: a second set of ``weights``/``offsets``/``bias`` over the same member logits, for faces
from video files (``forward(x, video=True)``). Photos and compressed video frames put different real
faces beside the fakes (studio portraits that read as generated, H.264 frames that read as clean), so
one combination fitted on both silences a member on the kind where it would speak: the frozen-feature
GAN probe, held down by studio photos, is what ranks talking-head videos. ``forward_head(...,
video=True)`` gives Grad-CAM the video combination for a video's faces.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fakelens.models.registry import create_model


class LogitEnsemble(nn.Module):
    def __init__(
        self,
        members: list[dict],
        weights: list[float] | None = None,
        bias: float = 0.0,
        mode: str = "stack",
        offsets: list[float] | None = None,
        video: dict | None = None,
    ):
        super().__init__()
        if mode not in ("stack", "average", "max"):
            raise ValueError(f"unknown ensemble mode {mode!r} (stack, average or max)")
        self.mode = mode
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(
            create_model(m["architecture"], pretrained=False, **m.get("model_kwargs", {})) for m in members
        )
        k = len(members)
        w = torch.tensor(weights if weights is not None else [1.0 / k] * k, dtype=torch.float32)
        if w.shape != (k,):
            raise ValueError(f"{k} members but {len(w)} weights")
        self.register_buffer("weights", w)
        self.register_buffer("bias", torch.tensor(float(bias)))
        c = torch.tensor(offsets if offsets is not None else [0.0] * k, dtype=torch.float32)
        if c.shape != (k,):
            raise ValueError(f"{k} members but {len(c)} offsets")
        # in config.json's model_kwargs, not the weights file: ensembles saved before offsets still load
        self.register_buffer("offsets", c, persistent=False)
        self.has_video_combination = video is not None
        if video is not None:
            if not isinstance(video, dict) or not {"weights", "offsets"} <= set(video):
                raise ValueError(
                    "video: needs a mapping with weights and offsets (one per member) and a bias"
                )
            vw, vc = (
                torch.tensor(video[key], dtype=torch.float32).reshape(-1) for key in ("weights", "offsets")
            )
            if vw.shape != (k,) or vc.shape != (k,):
                raise ValueError(f"{k} members but video weights/offsets of {len(vw)}/{len(vc)}")
            self.register_buffer("video_weights", vw, persistent=False)
            self.register_buffer("video_offsets", vc, persistent=False)
            self.register_buffer("video_bias", torch.tensor(float(video.get("bias", 0.0))), persistent=False)
        self.channels = [m.head.in_features for m in self.members]

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) logits of every member."""
        return torch.stack([m(x) for m in self.members], dim=1)

    def combine(self, logits: torch.Tensor, video: bool = False) -> torch.Tensor:
        if video and not self.has_video_combination:
            raise ValueError("this ensemble has no video combination")
        w, c, b = (
            (self.video_weights, self.video_offsets, self.video_bias)
            if video
            else (self.weights, self.offsets, self.bias)
        )
        if self.mode == "max":
            return (logits * w + c).max(dim=1).values + b
        return logits @ w + b

    def forward(self, x: torch.Tensor, video: bool = False) -> torch.Tensor:
        return self.combine(self.member_logits(x), video)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        feats = [m.forward_features(x) for m in self.members]
        grid = min(f.shape[-1] for f in feats), min(f.shape[-2] for f in feats)
        return torch.cat([F.adaptive_avg_pool2d(f, (grid[1], grid[0])) for f in feats], dim=1)

    def forward_head(
        self, features: torch.Tensor, pre_logits: bool = False, video: bool = False
    ) -> torch.Tensor:
        parts = torch.split(features, self.channels, dim=1)
        logits = torch.stack([m.forward_head(p) for m, p in zip(self.members, parts, strict=True)], dim=1)
        return logits if pre_logits else self.combine(logits, video)


def ensemble(
    pretrained: bool = False,
    members: list[dict] | None = None,
    weights: list[float] | None = None,
    bias: float = 0.0,
    mode: str = "stack",
    offsets: list[float] | None = None,
    drop_rate: float = 0.0,
    video: dict | None = None,
) -> LogitEnsemble:
    """Registry builder; member weights come from the checkpoint (``pretrained`` is not used)."""
    return LogitEnsemble(members or [], weights, bias, mode, offsets, video)
