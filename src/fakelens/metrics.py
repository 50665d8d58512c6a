"""Binary detection metrics over plain arrays, frame- or video-level.

Convention everywhere: label 1 = fake, score = p(fake), and a sample is called fake when
``score >= threshold``. Undefined figures (AUC with one class, AP with no fakes) are NaN in
the functions and ``None`` in the report dicts, so a report always serialises to valid JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from fakelens.rules import FRAME_RULE, VIDEO_RULE, video_score

__all__ = [
    "accuracy",
    "aggregate_by_video",
    "average_precision",
    "binary_metrics",
    "equal_error_rate",
    "evaluation_report",
    "rates_at_threshold",
    "roc_auc",
]


def _check(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate once here so each metric can trust its inputs (sklearn's errors are cryptic)."""
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(y_score, dtype=float).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values but y_score has {s.size}")
    if y.size and not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))][0]
        raise ValueError(f"labels must be 0 (real) or 1 (fake), got {bad!r}")
    if not np.isfinite(s).all():
        raise ValueError("y_score contains NaN or infinite values")
    return y.astype(int), s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < int(y.sum()) < y.size


def roc_auc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve; NaN (not an exception) when only one class is present."""
    y, s = _check(y_true, y_score)
    if not _both_classes(y):
        return math.nan
    return float(roc_auc_score(y, s))


def average_precision(y_true: Any, y_score: Any) -> float:
    """Average precision for the fake class; NaN when there are no fakes."""
    y, s = _check(y_true, y_score)
    if not y.size or not y.any():
        return math.nan
    return float(average_precision_score(y, s))


def equal_error_rate(y_true: Any, y_score: Any) -> tuple[float, float]:
    """Return ``(eer, threshold)`` where the false-positive and false-negative rates meet.

    Walks the full ROC curve (no dropped points) to the first point where FNR <= FPR and
    linearly interpolates between it and the previous point, so the EER is exact on the
    piecewise-linear curve. The threshold is interpolated the same way (when the previous
    point is sklearn's ``inf`` sentinel, the finite neighbour is used). With perfectly
    separated classes this gives EER 0 and the lowest fake score as threshold, i.e. a
    threshold that separates the classes under the ``score >= threshold`` rule.
    NaN pair if only one class is present.
    """
    y, s = _check(y_true, y_score)
    if not _both_classes(y):
        return math.nan, math.nan
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fnr = 1.0 - tpr
    diff = fnr - fpr  # starts at +1 (fpr=0, fnr=1), ends at -1 (fpr=1, fnr=0)
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0 or i == 0:
        return float(fpr[i]), float(thr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])  # fraction of the way from point i-1 to i
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    if np.isfinite(thr[i - 1]):
        threshold = thr[i - 1] + t * (thr[i] - thr[i - 1])
    else:
        threshold = thr[i]
    return float(eer), float(threshold)


def accuracy(y_true: Any, y_score: Any, threshold: float = 0.5) -> float:
    """Fraction of samples whose ``score >= threshold`` call matches the label; NaN if empty."""
    y, s = _check(y_true, y_score)
    if not y.size:
        return math.nan
    return float(np.mean((s >= threshold).astype(int) == y))


def rates_at_threshold(y_true: Any, y_score: Any, threshold: float = 0.5) -> tuple[float, float]:
    """(false-alarm rate, detection rate) at ``threshold``: the share of real samples and of fake
    samples scored ``>= threshold`` (what an analyst sees at the shipped threshold; NaN where a
    class is absent)."""
    y, s = _check(y_true, y_score)
    flagged = s >= threshold
    fpr = float(flagged[y == 0].mean()) if (y == 0).any() else math.nan
    tpr = float(flagged[y == 1].mean()) if (y == 1).any() else math.nan
    return fpr, tpr


def aggregate_by_video(
    video_ids: Any, y_true: Any, y_score: Any, how: str = "trimmed"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Collapse frame rows into one row per video: ``(ids, labels, scores)``.

    Videos keep first-appearance order. The video score is, by default, the trimmed mean of its
    frame scores (``fakelens.rules.video_score``), which is scan's rule only for one face per video:
    ``evaluate`` scores videos by face tracks (``rules.track_video_score``) and passes them to
    :func:`evaluation_report`; ``how="mean"``/``"median"`` are for
    comparisons. Its label is the shared label of its frames. A video whose frames disagree on the
    label is a manifest bug, so it raises rather than silently voting.
    """
    if how not in ("trimmed", "mean", "median"):
        raise ValueError(f"how must be 'trimmed', 'mean' or 'median', got {how!r}")
    y, s = _check(y_true, y_score)
    ids = [str(v) for v in np.asarray(video_ids, dtype=object).reshape(-1)]
    if len(ids) != y.size:
        raise ValueError(f"video_ids has {len(ids)} values but y_true has {y.size}")
    groups: dict[str, list[int]] = {}
    for row, vid in enumerate(ids):
        groups.setdefault(vid, []).append(row)
    reduce = {"trimmed": video_score, "mean": np.mean, "median": np.median}[how]
    labels = np.empty(len(groups), dtype=int)
    scores = np.empty(len(groups), dtype=float)
    for k, (vid, rows) in enumerate(groups.items()):
        frame_labels = y[rows]
        if frame_labels.min() != frame_labels.max():
            raise ValueError(f"video {vid!r} mixes real and fake frames")
        labels[k] = frame_labels[0]
        scores[k] = reduce(s[rows])
    return list(groups), labels, scores


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def binary_metrics(y_true: Any, y_score: Any, threshold: float = 0.5) -> dict[str, Any]:
    """All headline figures in one JSON-ready dict (plain ints/floats, NaN as None)."""
    y, s = _check(y_true, y_score)
    eer, eer_thr = equal_error_rate(y, s)
    fpr, tpr = rates_at_threshold(y, s, threshold)
    return {
        "n": int(y.size),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "auc": _json_float(roc_auc(y, s)),
        "ap": _json_float(average_precision(y, s)),
        "eer": _json_float(eer),
        "eer_threshold": _json_float(eer_thr),
        "acc": _json_float(accuracy(y, s, threshold)),
        "fpr": _json_float(fpr),  # false alarms on real samples at the threshold
        "tpr": _json_float(tpr),  # fakes caught at the threshold
        "threshold": float(threshold),
    }


def evaluation_report(
    y_true: Any, y_score: Any, video_ids: Any = None, threshold: float = 0.5, videos: Any = None
) -> dict[str, Any]:
    """Frame-level and (if ids are given) video-level metrics under separate, explicit keys.

    The two levels answer different questions and have different ``n``; keeping them apart
    stops a video-level AUC being quoted next to a frame-level accuracy.
    """
    report: dict[str, Any] = {
        "frame_level": binary_metrics(y_true, y_score, threshold) | {"rule": FRAME_RULE},
        "video_level": None,
    }
    if videos is not None:  # (ids, labels, scores) already by the video rule (face tracks: evaluate)
        _, v_true, v_score = videos
        report["video_level"] = binary_metrics(v_true, v_score, threshold) | {"rule": VIDEO_RULE}
    elif video_ids is not None:
        _, v_true, v_score = aggregate_by_video(video_ids, y_true, y_score)
        report["video_level"] = binary_metrics(v_true, v_score, threshold) | {
            "rule": "20%-trimmed mean over frames of the max over faces (no face tracks given)"
        }
    return report
