"""The operating threshold shipped with a model: the score that a chosen share of clean validation
*real* faces stay below. A false alarm on a real person costs an analyst more than a missed easy
fake, so the threshold is set by the false-alarm rate on reals (default 5 %), not by accuracy."""

from __future__ import annotations

import numpy as np
import torch

from fakelens.models.detector import Preprocess


@torch.inference_mode()
def real_quantile_threshold(
    model: torch.nn.Module, crops: np.ndarray, preprocess: Preprocess, false_alarm_rate: float = 0.05
) -> float:
    """``1 - false_alarm_rate`` quantile of p(fake) over aligned real face crops."""
    if len(crops) == 0:
        raise ValueError("no validation faces to calibrate the threshold on")
    was_training = model.training
    model.eval()
    scores = []
    for i in range(0, len(crops), 32):
        scores.append(torch.sigmoid(model(preprocess.to_tensor(list(crops[i : i + 32])))).numpy())
    model.train(was_training)
    return float(np.quantile(np.concatenate(scores), 1 - false_alarm_rate))
