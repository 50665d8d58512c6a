"""Plots write real PNGs and do not leave pyplot state behind."""

from __future__ import annotations

import sys

import numpy as np

from fakelens.evaluate import plot_roc, plot_score_histogram

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plot_roc_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    curves = {
        "good": (y, np.clip(y * 0.5 + rng.uniform(0, 0.5, 100), 0, 1)),
        "noise": (y, rng.uniform(0, 1, 100)),
        "only fakes": ([1, 1, 1], [0.2, 0.5, 0.9]),  # one class: legend says n/a, no crash
    }
    out = plot_roc(curves, tmp_path / "sub" / "roc.png", title="test")
    assert out == tmp_path / "sub" / "roc.png"
    assert _is_png(out)


def test_plot_score_histogram_writes_png(tmp_path):
    y = [0, 0, 0, 1, 1]
    s = [0.1, 0.2, 0.45, 0.6, 0.9]
    out = plot_score_histogram(y, s, tmp_path / "hist.png", threshold=0.5)
    assert _is_png(out)
    # One class only and scores outside [0, 1] (logits) still draw.
    assert _is_png(plot_score_histogram([1, 1], [-2.0, 3.0], tmp_path / "h2.png"))


def test_plots_leave_no_pyplot_figures(tmp_path):
    plot_score_histogram([0, 1], [0.2, 0.8], tmp_path / "h.png")
    plt = sys.modules.get("matplotlib.pyplot")
    assert plt is None or plt.get_fignums() == []
