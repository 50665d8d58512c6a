"""``TemporalHead``: one logit for a face track from its frames' pooled embeddings and frame logits.

Why: the frame model scores each crop alone, and the scan's rule (``fakelens.rules``) only averages
those scores over a track, so evidence that lives *between* frames (a mouth region that moves while
the rest is frozen, identity or texture that flickers, a face that does not move at all) cannot
count. This head looks at a short window of frames of one track and may add that evidence.

It is in the spirit of StA (Spatiotemporal Adapter, "Generalizing Deepfake Video Detection with
Plug-and-Play: Video-Level Blending and Spatiotemporal Adapter Tuning"), sized for a CPU budget.
What differs from StA: no spatiotemporal attention *inside* the backbone (no adapter between its
blocks, no attention across the patch tokens of neighbouring frames); the frame model stays frozen
and is run once per frame as the scan runs it, and the head sees only its *pooled* per-frame
embeddings (plus the frame logits): a 1D convolution over time (kernel 3, a small width) and an
attention pooling over the frames. So it can learn how a track's embedding changes from frame to
frame, never where in the face that change is.

It starts as per-frame aggregation: its output is the masked mean of the frame logits plus a
learned correction whose last layer is zero-initialised, so an untrained head scores exactly as the
mean frame logit does, and training only has to learn what time adds.
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalHead(nn.Module):
    """(B, T, D) embeddings, (B, T) frame logits, optional (B, T) mask of real frames -> (B,) logits.

    T may vary from call to call; padded frames (``mask`` False) change nothing: they are zeroed
    before the convolution (whose own padding is zeros too) and left out of both poolings.
    """

    def __init__(self, dim: int, width: int = 64, kernel: int = 3, dropout: float = 0.2):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"kernel must be odd (same length in and out), got {kernel}")
        self.dim, self.width, self.kernel = dim, width, kernel
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, width)
        self.drop = nn.Dropout(dropout)
        # the frame logit is one more input channel: how the frame model's opinion moves over time
        self.conv = nn.Conv1d(width + 1, width, kernel, padding=kernel // 2)
        self.act = nn.GELU()
        self.attn = nn.Linear(width, 1)
        self.out = nn.Linear(width, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @staticmethod
    def mean_logit(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The per-frame aggregation the head starts from: the mean frame logit over real frames."""
        m = mask.to(logits.dtype)
        return (logits * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(
        self, emb: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if emb.ndim != 3 or logits.shape != emb.shape[:2]:
            raise ValueError(
                f"expected (B, T, D) embeddings and (B, T) logits, got {tuple(emb.shape)} "
                f"and {tuple(logits.shape)}"
            )
        if mask is None:
            mask = torch.ones(logits.shape, dtype=torch.bool, device=logits.device)
        m = mask.to(emb.dtype).unsqueeze(-1)  # (B, T, 1)
        h = self.proj(self.norm(emb)) * m  # no dropout here: it would unfreeze frozen frames
        x = torch.cat([h, logits.unsqueeze(-1) * m], dim=-1).transpose(1, 2)  # (B, W + 1, T)
        h = (h + self.act(self.conv(x)).transpose(1, 2)) * m  # (B, T, W)
        a = self.attn(h).squeeze(-1).masked_fill(~mask, -1e9)  # not -inf: no NaN when all are padding
        pooled = (torch.softmax(a, dim=1).unsqueeze(-1) * h).sum(1)
        return self.mean_logit(logits, mask) + self.out(self.drop(pooled)).squeeze(-1)
