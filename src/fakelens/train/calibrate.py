"""The operating threshold shipped with a model: the score that a chosen share of clean validation
*real* faces stay below. A false alarm on a real person costs an analyst more than a missed easy
fake, so the threshold is set by the false-alarm rate on reals (default 5 %), not by accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fakelens.preprocess import Preprocess

THRESHOLD_RULE = "95th percentile of p(fake) over clean validation real faces (5 % false alarms there)"


def module_device(model: torch.nn.Module) -> torch.device:
    """Where the model's weights are (a parameterless scorer runs on the CPU)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@torch.inference_mode()
def real_scores(model: torch.nn.Module, crops: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """p(fake) of every aligned real face crop (the model left in the mode it was in)."""
    if len(crops) == 0:
        raise ValueError("no validation faces to calibrate the threshold on")
    was_training = model.training
    model.eval()
    device = module_device(model)
    scores = [
        torch.sigmoid(model(preprocess.to_tensor(list(crops[i : i + 32])).to(device)).float()).cpu().numpy()
        for i in range(0, len(crops), 32)
    ]
    model.train(was_training)
    return np.concatenate(scores)


def real_quantile_threshold(
    model: torch.nn.Module, crops: np.ndarray, preprocess: Preprocess, false_alarm_rate: float = 0.05
) -> float:
    """``1 - false_alarm_rate`` quantile of p(fake) over aligned real face crops."""
    return float(np.quantile(real_scores(model, crops, preprocess), 1 - false_alarm_rate))


def per_source_threshold(
    model: torch.nn.Module,
    crops: np.ndarray,
    paths: list[str],
    preprocess: Preprocess,
    false_alarm_rate: float = 0.05,
    min_faces: int = 20,
) -> tuple[float, dict[str, dict]]:
    """The smallest threshold that keeps *every* source's false alarms at ``false_alarm_rate`` on
    clean validation reals: the largest of the pooled quantile and each source's (a source: the
    file's folder; sources with fewer than ``min_faces`` validation faces count in the pooled one
    only). A pooled quantile lets a large easy source (low-quality web photos) hide a hard one
    (studio portraits) that then carries most of the false alarms. Returns it and, per source, the
    faces and false alarms at it."""
    scores = real_scores(model, crops, preprocess)
    names = np.array([Path(p).parent.name for p in paths])
    sources = {str(s): scores[names == s] for s in np.unique(names)}
    sources = {s: v for s, v in sources.items() if len(v) >= min_faces}
    # "higher": an observed score, so no more than the rate lie above it (interpolating can leave 6 % above)
    threshold = max(
        float(np.quantile(v, 1 - false_alarm_rate, method="higher")) for v in [scores, *sources.values()]
    )
    table = {
        s: {"faces": int(len(v)), "false_alarms": round(float((v > threshold).mean()), 4)}
        for s, v in sources.items()
    }
    return threshold, table


def _nll(logits: np.ndarray, labels: np.ndarray) -> float:
    # log(1 + e^z) - y z, computed stably
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Temperature scaling: the ``T`` minimising the validation log-loss of ``sigmoid(logit / T)``.
    Returns ``{"scale": 1/T, "bias": 0, ...}`` with the expected calibration error before and after."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, np.float64).ravel()
    labels = np.asarray(labels, np.float64).ravel()
    res = minimize_scalar(
        lambda log_t: _nll(logits / np.exp(log_t), labels), bounds=(-4.0, 4.0), method="bounded"
    )
    temperature = float(np.exp(res.x))
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    return {
        "method": "temperature scaling on the validation set",
        "temperature": round(temperature, 4),
        "scale": round(1.0 / temperature, 6),
        "bias": 0.0,
        "ece_before": round(expected_calibration_error(labels, sig(logits)), 4),
        "ece_after": round(expected_calibration_error(labels, sig(logits / temperature)), 4),
    }


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean |share of fakes - mean score| over equal-width score bins, weighted by bin size."""
    labels = np.asarray(labels, np.float64)
    scores = np.asarray(scores, np.float64)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(labels[sel].mean() - scores[sel].mean())
    return float(total / max(len(scores), 1))
