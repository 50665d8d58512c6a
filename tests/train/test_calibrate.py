"""Operating thresholds: the per-source rule keeps every validation source at the rate."""

from __future__ import annotations

import numpy as np
import torch

from fakelens.preprocess import Preprocess
from fakelens.train.calibrate import per_source_threshold, real_quantile_threshold


class _MeanBrightness(torch.nn.Module):
    """A 'detector' whose logit is the crop's mean brightness: scores are set by the pixels."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * 8


def test_per_source_threshold_protects_the_hard_source():
    rng = np.random.default_rng(0)
    easy = rng.integers(0, 90, 300)  # a large source of dark, low-scoring photos
    hard = rng.integers(120, 200, 40)  # a small one of bright photos the detector finds fake-like
    levels = np.r_[easy, hard]
    crops = np.stack([np.full((8, 8, 3), v, np.uint8) for v in levels])
    paths = [f"/d/web/{i}.jpg" for i in range(300)] + [f"/d/studio/{i}.png" for i in range(40)]
    model, pre = _MeanBrightness(), Preprocess(8)
    pooled = real_quantile_threshold(model, crops, pre)
    threshold, table = per_source_threshold(model, crops, paths, pre)
    assert threshold > pooled
    assert table["studio"]["faces"] == 40 and table["studio"]["false_alarms"] <= 0.05
    assert table["web"]["false_alarms"] <= 0.05
    scores = torch.sigmoid(model(pre.to_tensor(list(crops)))).numpy()
    assert (scores[300:] > pooled).mean() > 0.3  # the pooled rule flags a third of the hard source


def test_small_sources_count_in_the_pooled_quantile_only():
    crops = np.stack([np.full((8, 8, 3), v, np.uint8) for v in [*range(0, 100), 250, 251]])
    paths = [f"/d/big/{i}.jpg" for i in range(100)] + ["/d/tiny/a.jpg", "/d/tiny/b.jpg"]
    _, table = per_source_threshold(_MeanBrightness(), crops, paths, Preprocess(8))
    assert set(table) == {"big"}
