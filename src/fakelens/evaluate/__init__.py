"""Evaluation: metrics over score arrays, manifest reading, and report plots.

matplotlib is only imported when a plot function runs, so importing this package is cheap.
"""

from __future__ import annotations

from fakelens.evaluate.manifest import ManifestRow, read_manifest
from fakelens.evaluate.metrics import (
    accuracy,
    aggregate_by_video,
    average_precision,
    binary_metrics,
    equal_error_rate,
    evaluation_report,
    rates_at_threshold,
    roc_auc,
)
from fakelens.evaluate.plots import plot_roc, plot_score_histogram

__all__ = [
    "ManifestRow",
    "accuracy",
    "aggregate_by_video",
    "average_precision",
    "binary_metrics",
    "equal_error_rate",
    "evaluation_report",
    "plot_roc",
    "plot_score_histogram",
    "rates_at_threshold",
    "read_manifest",
    "roc_auc",
]
