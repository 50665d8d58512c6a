"""``fakelens evaluate --perturb``: AUC of one model under each perturbation x severity level.

Each condition (clean, then every perturbation at every level) is a full :func:`evaluate_manifest`
run into ``out/<name>-<level>/`` (``out/clean/``), so every cell of the table can be inspected
(scores, ROC) and matches a single ``--perturb name:level`` run exactly. Decoded frames are not
shared between conditions: the perturbation degrades the whole frame *before* face detection (as
in the wild), so detection, alignment and scoring must re-run anyway; only decoding is repeated.

The summary is written after every condition (nothing computed is lost): ``robustness.json``,
``robustness.csv``, ``robustness.md`` (frame-level and video-level AUC in separate tables, never
mixed) and ``robustness.png`` (AUC vs level, one line per perturbation, clean AUC dashed).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fakelens.errors import FakelensError
from fakelens.evaluate.manifest import read_manifest
from fakelens.evaluate.plots import _new_figure, _save
from fakelens.forge.perturb import LEVELS, PERTURBATIONS, Perturbation, parse_perturbations

__all__ = ["evaluate_robustness", "summary_tables"]

_LEVEL_KEYS = {"frame_level": "frame-level", "video_level": "video-level"}
_FIGURES = ("auc", "ap", "eer", "acc", "fpr", "tpr", "n", "n_real", "n_fake")
_CSV_COLUMNS = (
    ["perturbation", "level", "param", "value"]
    + [f"{lv}_{k}" for lv in ("frame", "video") for k in _FIGURES]
    + ["rows_scored", "rows_no_face", "rows_error", "error", "folder"]
)


def _condition_row(p: Perturbation | None, folder: str, result: dict | None, error: str | None) -> dict:
    row: dict = {"perturbation": p.name if p else "clean", "level": p.level if p else 0}
    row["param"], row["value"] = next(iter(p.params.items())) if p else (None, None)
    metrics = (result or {}).get("metrics") or {}
    for key, short in (("frame_level", "frame"), ("video_level", "video")):
        m = metrics.get(key) or {}
        for k in _FIGURES:
            row[f"{short}_{k}"] = m.get(k)
    for k in ("rows_scored", "rows_no_face", "rows_error"):
        row[k] = (result or {}).get(k)
    row["error"], row["folder"] = error, folder
    return row


def _auc_table(rows: list[dict], level_key: str, names: list[str], levels: Sequence[int]) -> dict:
    """{"clean": auc, name: {level: auc}} for one of frame/video level."""
    short = "frame" if level_key == "frame_level" else "video"
    clean = next((r for r in rows if r["perturbation"] == "clean"), {})
    table: dict = {"clean": clean.get(f"{short}_auc")}
    for name in names:
        cells = {r["level"]: r[f"{short}_auc"] for r in rows if r["perturbation"] == name}
        table[name] = {str(lv): cells.get(lv) for lv in levels}
    return table


def _cell(row: dict | None, key: str) -> str:
    if row is None:
        return "–"  # not run (yet)
    if row["error"]:
        return "no face" if row["error"].startswith("no face") else "error"
    return "n/a" if row[key] is None else f"{row[key]:.3f}"


def summary_tables(summary: dict):
    """Rich tables (frame-level, then video-level AUC) for the command line."""
    from rich.table import Table

    done = {(r["perturbation"], r["level"]): r for r in summary["conditions"]}
    tables = []
    for key, title in _LEVEL_KEYS.items():
        if summary.get(f"{key}_auc") is None:
            continue
        short = key.split("_")[0]
        table = Table(title=f"{title} AUC of {summary['model']} under perturbations")
        for col in ["perturbation", "clean"] + [f"L{lv}" for lv in summary["levels"]]:
            table.add_column(col)
        clean = _cell(done.get(("clean", 0)), f"{short}_auc")
        for name in summary["perturbations"]:
            cells = [_cell(done.get((name, lv)), f"{short}_auc") for lv in summary["levels"]]
            table.add_row(name, clean, *cells)
        tables.append(table)
    return tables


def _markdown(summary: dict) -> str:
    rows, levels, names = summary["conditions"], summary["levels"], summary["perturbations"]
    done = {(r["perturbation"], r["level"]): r for r in rows}
    lines = [
        f"# Robustness of {summary['model']} on {Path(summary['manifest']).name}",
        "",
        "Each cell is the AUC with every decoded frame degraded before face detection (aligned "
        f"crops scored as they are: the crop degraded) ({summary['num_frames']} frames per video). "
        "Levels: 1 mild ... 5 severe.",
    ]
    for level_key, title in (
        ("frame_level", "Frame-level AUC (one sample per frame with a face; frame score = max over faces)"),
        (
            "video_level",
            "Video-level AUC (video score by scan's rule: the max over face tracks of their trimmed means)",
        ),
    ):
        table = summary[f"{level_key}_auc"]
        if table is None:
            continue
        short = "frame" if level_key == "frame_level" else "video"
        header = ["perturbation", "parameter", "clean"] + [f"L{lv}" for lv in levels]
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name in names:
            kind = PERTURBATIONS[name]
            values = "/".join(str(kind.values[lv - 1]) for lv in levels)
            cells = [name, f"{kind.param} {values}", _cell(done.get(("clean", 0)), f"{short}_auc")]
            cells += [_cell(done.get((name, lv)), f"{short}_auc") for lv in levels]
            lines.append("| " + " | ".join(cells) + " |")
    if any(r.get("frame_fpr") is not None for r in rows):  # what degradation does to real faces
        header = ["perturbation", "clean"] + [f"L{lv}" for lv in levels]
        lines += [
            "",
            "## Frame-level false alarms: share of *real* frames flagged at the model's threshold",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for name in names:
            cells = [name, _cell(done.get(("clean", 0)), "frame_fpr")]
            cells += [_cell(done.get((name, lv)), "frame_fpr") for lv in levels]
            lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if r["error"]]
    if failed:
        lines += ["", "Failed conditions:", ""]
        lines += [f"- {r['perturbation']}:{r['level']}: {r['error']}" for r in failed]
    return "\n".join(lines) + "\n"


def _plot(summary: dict, out_png: Path) -> Path:
    panels = [k for k in _LEVEL_KEYS if summary[f"{k}_auc"] is not None]
    fig = _new_figure((5.5 * len(panels), 4.2))
    levels = summary["levels"]
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        table = summary[f"{key}_auc"]
        for name in summary["perturbations"]:
            pts = [(lv, table[name][str(lv)]) for lv in levels if table[name][str(lv)] is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", linewidth=1.5, label=name)
        if table["clean"] is not None:
            ax.axhline(table["clean"], color="black", linestyle="--", linewidth=1.2, label="clean")
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set_xticks(list(levels))
        ax.set_xlabel("severity level (1 mild ... 5 severe)")
        ax.set_ylabel("AUC")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{_LEVEL_KEYS[key]} AUC")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower left", ncol=2)
    fig.suptitle(f"{summary['model']} on {Path(summary['manifest']).name}", fontsize="medium")
    fig.tight_layout()
    return _save(fig, out_png)


def _write(summary: dict, out: Path, plot: bool) -> None:
    rows = summary["conditions"]
    names = summary["perturbations"]
    summary["frame_level_auc"] = _auc_table(rows, "frame_level", names, summary["levels"])
    has_video = any(r["video_auc"] is not None or r["video_n"] for r in rows)
    summary["video_level_auc"] = (
        _auc_table(rows, "video_level", names, summary["levels"]) if has_video else None
    )
    (out / "robustness.json").write_text(json.dumps(summary, indent=2) + "\n")
    with open(out / "robustness.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "robustness.md").write_text(_markdown(summary))
    if plot:
        _plot(summary, out / "robustness.png")


def evaluate_robustness(
    manifest: str | Path,
    out: str | Path,
    *,
    model=None,
    perturbations: str | Sequence[str | Perturbation] = ("all",),
    levels: Sequence[int] = LEVELS,
    num_frames: int = 32,
    progress: bool = True,
) -> dict:
    """Clean evaluation plus each perturbation x level; returns the ``robustness.json`` dict.

    ``perturbations``: names (all ``levels`` of each), ``"name:level"`` specs, ``"all"``, or
    Perturbation objects. A condition that fails (e.g. no face found at all) is recorded with
    its error and the run goes on.
    """
    from fakelens.evaluate.run import evaluate_manifest
    from fakelens.models.loading import load_detector
    from fakelens.models.scorer import Scorer

    read_manifest(manifest)  # a bad manifest fails now, once, not once per condition
    if isinstance(perturbations, str | Perturbation):
        perturbations = [perturbations]
    specs = ",".join(str(p) for p in perturbations)
    conditions: list[Perturbation | None] = [None, *parse_perturbations(specs, levels)]
    detector = model if isinstance(model, Scorer) else load_detector(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "model": detector.name,
        "manifest": str(manifest),
        "num_frames": num_frames,
        "levels": sorted({p.level for p in conditions if p}),
        "perturbations": list(dict.fromkeys(p.name for p in conditions if p)),
        "parameters": {
            name: {"param": PERTURBATIONS[name].param, "values": list(PERTURBATIONS[name].values)}
            for name in dict.fromkeys(p.name for p in conditions if p)
        },
        "conditions": [],
    }
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    with bar:
        overall = bar.add_task("conditions", total=len(conditions))
        for p in conditions:
            folder = out / ("clean" if p is None else f"{p.name}-{p.level}")
            bar.update(overall, description=f"robustness: {p or 'clean'}")
            before = set(bar.task_ids)
            try:
                result = evaluate_manifest(
                    manifest, folder, model=detector, num_frames=num_frames, progress=bar, perturb=p
                )
                error = None
            except (FakelensError, ValueError, RuntimeError) as err:
                result, error = None, " ".join(str(err).split())
            for task in set(bar.task_ids) - before:
                bar.remove_task(task)
            summary["conditions"].append(_condition_row(p, folder.name, result, error))
            _write(summary, out, plot=False)
            bar.advance(overall)
    _write(summary, out, plot=True)
    return summary
