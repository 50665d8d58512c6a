"""Results as tables people read: one long-format row per (test set, level, subset), written as CSV
and Markdown next to the JSON, and ``fakelens report`` to put several runs side by side.

Frame-level and video-level figures are separate rows with a ``level`` column and separate Markdown
tables, so they can never be averaged together by accident.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from fakelens.errors import FakelensError

METRICS = ("auc", "ap", "eer", "acc", "fpr", "tpr")
COLUMNS = ("run", "test", "level", "subset", "n", "n_real", "n_fake", *METRICS)
LEVELS = ("frame_level", "video_level")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def evaluation_rows(result: dict, *, test: str, run: str = "") -> list[dict]:
    """Rows of one ``evaluate_manifest`` result: each level on all rows, then frame-level per method."""
    rows = []
    for level in LEVELS:
        m = (result.get("metrics") or {}).get(level)
        if m:
            rows.append({"run": run, "test": test, "level": level, "subset": "all", **_pick(m)})
    for method, m in sorted((result.get("frame_level_per_method") or {}).items()):
        rows.append(
            {"run": run, "test": test, "level": "frame_level", "subset": f"real vs {method}", **_pick(m)}
        )
    return rows


def _pick(m: dict) -> dict:
    return {k: m.get(k) for k in ("n", "n_real", "n_fake", *METRICS)}


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body]) + "\n"


def markdown_by_level(rows: list[dict], columns: list[str], title: str = "") -> str:
    """One Markdown table per level, each under its own heading: never one mixed table."""
    parts = [f"# {title}\n"] if title else []
    for level in LEVELS:
        chosen = [r for r in rows if r.get("level") == level]
        if chosen:
            parts.append(f"## {level.replace('_', '-')}\n\n" + markdown_table(chosen, columns))
    return "\n".join(parts)


def write_csv(rows: list[dict], path: Path, columns: list[str] | tuple[str, ...] = COLUMNS) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in columns})
    return path


def write_evaluation_tables(result: dict, out: str | Path, *, test: str = "") -> list[dict]:
    """``metrics.csv`` and ``metrics.md`` beside an evaluation's ``metrics.json``."""
    out = Path(out)
    test = test or Path(result.get("manifest", "")).stem
    rows = evaluation_rows(result, test=test)
    write_csv(rows, out / "metrics.csv", COLUMNS[1:])
    title = f"{result.get('model', '?')} on {test}"
    if result.get("perturbation"):
        title += f" (perturbation {result['perturbation']})"
    cols = ["subset", "n", "n_real", "n_fake", *METRICS]
    (out / "metrics.md").write_text(markdown_by_level(rows, cols, title))
    return rows


# ----------------------------------------------------------------------------- comparing runs


def load_run(folder: str | Path) -> list[dict]:
    """Long-format rows of a run folder: a protocol run (``results.json``), an evaluation
    (``metrics.json``) or a robustness run (``robustness.json``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FakelensError("no such run folder", folder)
    name = folder.name
    if (folder / "results.json").is_file():
        rows = _read_json(folder / "results.json").get("rows", [])
        if len({r.get("fold") for r in rows}) > 1:  # leave-one-out folds reuse test names ("seen methods")
            rows = [{**r, "test": f"{r['fold']}: {r['test']}"} for r in rows]
        return [{**r, "run": name} for r in rows]
    if (folder / "metrics.json").is_file():
        return evaluation_rows(_read_json(folder / "metrics.json"), test="", run=name)
    if (folder / "robustness.json").is_file():
        return robustness_rows(_read_json(folder / "robustness.json"), run=name)
    raise FakelensError("no results.json, metrics.json or robustness.json inside", folder)


def robustness_rows(summary: dict, *, run: str = "") -> list[dict]:
    """Long-format rows of a ``robustness.json``: test = the condition (``clean``, ``jpeg:3``)."""
    rows = []
    for c in summary.get("conditions", []):
        test = "clean" if c["perturbation"] == "clean" else f"{c['perturbation']}:{c['level']}"
        for level, short in (("frame_level", "frame"), ("video_level", "video")):
            if c.get(f"{short}_auc") is None and not c.get(f"{short}_n"):
                continue  # not measured at this level (photos have no video level; failed condition)
            row = {"run": run, "test": test, "level": level, "subset": "all"}
            row |= {k: c.get(f"{short}_{k}") for k in ("n", "n_real", "n_fake", *METRICS)}
            rows.append(row)
    return rows


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FakelensError(f"not valid JSON ({err})", path) from None


def compare_runs(folders: list[str | Path], metric: str = "auc") -> tuple[list[str], list[dict]]:
    """Pivot several runs: one row per (test, level, subset), one column per run holding ``metric``.

    Run names are the folder names, made unique by their parent folder when two collide.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    folders = [Path(f) for f in folders]
    names = [f.name for f in folders]
    if len(set(names)) < len(names):
        names = [f"{f.parent.name}/{f.name}" for f in folders]
    table: dict[tuple, dict] = {}
    for folder, name in zip(folders, names, strict=True):
        for r in load_run(folder):
            key = (r.get("test", ""), r.get("level", ""), r.get("subset", "all"))
            row = table.setdefault(key, {"test": key[0], "level": key[1], "subset": key[2]})
            row[name] = r.get(metric)
    return names, list(table.values())


def comparison_markdown(names: list[str], rows: list[dict], metric: str) -> str:
    cols = ["test", "subset", *names]
    return markdown_by_level(rows, cols, f"{metric.upper()} by run")


def plot_comparison(names: list[str], rows: list[dict], metric: str, path: Path) -> Path:
    """Grouped bars: one group per (test, level, subset) with an 'all' subset, one bar per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    chosen = [r for r in rows if r["subset"] == "all"] or rows
    labels = [f"{r['test'] or 'all'}\n{r['level'].replace('_level', '')}" for r in chosen]
    x = np.arange(len(chosen))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(chosen) + 2), 4))
    for i, name in enumerate(names):
        vals = [np.nan if r.get(name) is None else r[name] for r in chosen]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name)
    if metric == "auc":
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_ylim(0, 1)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(metric.upper())
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
