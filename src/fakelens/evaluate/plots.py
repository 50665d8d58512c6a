"""Report figures: ROC curves and real-vs-fake score histograms, written straight to PNG.

matplotlib is imported inside each function so that ``import fakelens.evaluate`` stays
cheap. Figures are built with the object-oriented ``Figure`` API and an Agg canvas rather
than pyplot, so no global backend is switched and no figure is left registered anywhere
(safe inside notebooks, GUIs and long-running batch jobs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fakelens.evaluate.metrics import _check, roc_auc

__all__ = ["plot_roc", "plot_score_histogram"]

_DPI = 110


def _new_figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, out_png: str | Path) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=_DPI, format="png")
    fig.clear()  # release artists now; the figure is not referenced anywhere else
    return out


def plot_roc(curves: dict[str, tuple[Any, Any]], out_png: str | Path, title: str = "ROC") -> Path:
    """Draw one ROC line per ``name -> (y_true, y_score)`` with its AUC in the legend.

    A curve with a single class has no ROC; it is listed in the legend as ``n/a`` (no line)
    so a report still shows that the split was evaluated.
    """
    from sklearn.metrics import roc_curve

    fig = _new_figure((5.0, 5.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    for name, (y_true, y_score) in curves.items():
        y, s = _check(y_true, y_score)
        auc = roc_auc(y, s)
        if np.isnan(auc):
            ax.plot([], [], linestyle="none", label=f"{name} (AUC n/a: one class)")
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {auc:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (real called fake)")
    ax.set_ylabel("true positive rate (fake caught)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out_png)


def plot_score_histogram(
    y_true: Any,
    y_score: Any,
    out_png: str | Path,
    threshold: float | None = None,
    title: str = "Score distribution (real vs fake)",
) -> Path:
    """Overlay real and fake score histograms (as densities, so class imbalance doesn't hide one).

    Shows at a glance how separable the classes are and where a threshold would cut.
    """
    y, s = _check(y_true, y_score)
    fig = _new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    if s.size and s.min() >= 0.0 and s.max() <= 1.0:
        bins = np.linspace(0.0, 1.0, 41)
    elif s.size:
        bins = np.linspace(s.min(), s.max() if s.max() > s.min() else s.min() + 1.0, 41)
    else:
        bins = np.linspace(0.0, 1.0, 41)
    for label, name, color in ((0, "real", "tab:blue"), (1, "fake", "tab:red")):
        part = s[y == label]
        if part.size:
            ax.hist(part, bins=bins, density=True, alpha=0.5, color=color, label=f"{name} (n={part.size})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:.3g}")
    ax.set_xlabel("score = p(fake)")
    ax.set_ylabel("density")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, out_png)
