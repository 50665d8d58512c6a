"""How face scores become a frame score and frame scores a file score: the one place the rule lives.

``scan``, ``serve``, ``evaluate`` (and the protocols and robustness runs built on it) all call these
functions, so a video's score in a scan report is the score its video-level metrics were computed on.
A leaf module (numpy and the standard library only) so that every layer may import it.

- a face's score is the detector's p(fake) for its aligned crop;
- a frame's score is the **max over its faces** (one forged face makes the frame forged);
- an image's score is its frame score;
- a video's score is the **20 %-trimmed mean of its frame scores** over the sampled frames that have
  a face (robust to a few misdetections or motion-blurred frames, unlike the max).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

DEFAULT_TRIM = 0.2
FRAME_RULE = "max over faces"  # a frame's score from its faces
IMAGE_RULE = FRAME_RULE  # an image is one frame
VIDEO_RULE = "20%-trimmed mean over frames of the max over faces"


class _ScoredFace(Protocol):
    frame: int
    time_s: float
    score: float


def frame_scores_of(faces: Iterable[_ScoredFace]) -> dict[int, tuple[float, float]]:
    """frame index -> (time_s, frame score), sorted by frame; a frame's score is the max over its faces."""
    out: dict[int, tuple[float, float]] = {}
    for f in faces:
        if f.frame not in out or f.score > out[f.frame][1]:
            out[f.frame] = (f.time_s, f.score)
    return dict(sorted(out.items()))


def trimmed_mean(values, trim: float) -> float:
    """Mean after cutting ``floor(trim * n)`` values from each end (the median when nothing is left)."""
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    if not v.size:
        raise ValueError("trimmed_mean of no values")
    k = int(np.floor(trim * len(v)))
    if len(v) - 2 * k <= 0:
        return float(np.median(v))
    return float(v[k : len(v) - k].mean())


def video_score(frame_scores, trim: float = DEFAULT_TRIM) -> float:
    """A video's score from its frame scores (one per sampled frame with a face): the trimmed mean."""
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), got {trim}")
    return trimmed_mean(frame_scores, trim)


def video_rule(trim: float = DEFAULT_TRIM) -> str:
    """The label of the video rule for ``trim`` (``VIDEO_RULE`` at the default), for records and metrics."""
    if trim == DEFAULT_TRIM:
        return VIDEO_RULE
    return f"{trim * 100:g}%-trimmed mean over frames of the max over faces"
