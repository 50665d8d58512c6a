"""Re-export of ``fakelens.metrics``: the metrics are a leaf module so training can use them without
reaching up into ``evaluate`` (layer order in tests/test_layers.py)."""

from __future__ import annotations

from fakelens.metrics import (  # noqa: F401 - _check is used by evaluate/plots.py
    __all__,
    _check,
    accuracy,
    aggregate_by_video,
    average_precision,
    binary_metrics,
    equal_error_rate,
    evaluation_report,
    rates_at_threshold,
    roc_auc,
)
