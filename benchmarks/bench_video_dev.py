"""The video dev benchmark: ``../shared/data/video-dev`` scanned exactly as a user would scan it
(``fakelens.scan.scan_paths``: the shipped face pipeline, frame sampling and video rule), with
video-level AUC per forgery method and per dataset and the share of dev reals flagged at each model's
threshold, for several models side by side in one run.

``video-dev/`` is for *reporting* only: never train, select checkpoints, thresholds or recipes on it.
Per method, AUC is that method's fakes against (a) the real clips of its own dataset where it has some
(FF++ c40 originals for the four FF++ methods) and (b) every dev real clip. Clips without a face or
that cannot be read are counted, not scored.

Usage: python benchmarks/bench_video_dev.py [--model A,B] [--frames 32] [--out runs/bench-video-dev]
       [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from fakelens.metrics import rates_at_threshold, roc_auc
from fakelens.models.checkpoint import PREVIOUS_MODEL, read_config
from fakelens.models.detector import DEFAULT_MODEL, load_detector, resolve_checkpoint
from fakelens.models.file_scanner import ScanOptions
from fakelens.models.onnx_backend import source_digest
from fakelens.models.scorer import file_threshold
from fakelens.rules import video_rule
from fakelens.scan import scan_paths

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "video-dev"
FFPP_C40 = "FaceForensics++ c40"


def read_dev(limit: int | None = None) -> list[dict]:
    with open(DEV / "MANIFEST.tsv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t")]
    out = [
        {
            "path": str(DEV / r["relative_path"]),
            "label": int(r["label"].strip().lower() == "fake"),
            "method": r["method"],
            "dataset": r["dataset"],
        }
        for r in rows
    ]
    return out[:limit] if limit else out


def _auc(rows: list[dict]) -> tuple[float | None, int, int]:
    scored = [r for r in rows if r["score"] is not None]
    y = [r["label"] for r in scored]
    n_real, n_fake = y.count(0), y.count(1)
    if not n_real or not n_fake:
        return None, n_real, n_fake
    return float(roc_auc(np.array(y), np.array([r["score"] for r in scored]))), n_real, n_fake


def figures(rows: list[dict], threshold: float) -> dict:
    """Video-level figures of one model over the dev rows (each with its scan ``score``)."""
    reals = [r for r in rows if r["label"] == 0]
    out: dict = {"all": dict(zip(("auc", "n_real", "n_fake"), _auc(rows), strict=True))}
    scored_reals = [r["score"] for r in reals if r["score"] is not None]
    out["reals_flagged"] = float(np.mean([s >= threshold for s in scored_reals])) if scored_reals else None
    fakes_scored = [r for r in rows if r["label"] == 1 and r["score"] is not None]
    if fakes_scored:
        labels = [1] * len(fakes_scored)
        out["fakes_caught"] = rates_at_threshold(labels, [r["score"] for r in fakes_scored], threshold)[1]
    out["unscored"] = {
        "no_face": sum(r["verdict"] == "no_face" for r in rows),
        "error": sum(r["verdict"] == "error" for r in rows),
    }
    # the issue-16 targets: the four FF++ c40 methods vs FF++ c40 originals; every other fake (talking
    # heads, lip-sync, live swaps: today's generators; no FF++ fake at all) vs every dev real
    ffpp = [r for r in rows if r["dataset"] == FFPP_C40]
    others = [r for r in rows if r["label"] == 1 and not r["dataset"].startswith("FaceForensics++")]
    out["ffpp_c40"] = dict(zip(("auc", "n_real", "n_fake"), _auc(ffpp), strict=True))
    out["todays_generators"] = dict(zip(("auc", "n_real", "n_fake"), _auc(others + reals), strict=True))
    out["per_method"] = {}
    for method in sorted({r["method"] for r in rows if r["label"] == 1}):
        fakes = [r for r in rows if r["label"] == 1 and r["method"] == method]
        own = [r for r in reals if r["dataset"] == fakes[0]["dataset"]]
        out["per_method"][method] = {
            "dataset": fakes[0]["dataset"],
            "vs_own_reals": _auc(fakes + own)[0] if own else None,
            "vs_all_reals": _auc(fakes + reals)[0],
            "n_fake": sum(r["score"] is not None for r in fakes),
        }
    out["per_dataset"] = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        auc, n_real, n_fake = _auc([r for r in rows if r["dataset"] == dataset])
        out["per_dataset"][dataset] = {"auc": auc, "n_real": n_real, "n_fake": n_fake}
    return out


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def print_tables(results: dict) -> None:
    console = Console()
    names = list(results)
    t = Table(
        title="video-dev, video-level AUC (scan's rule); per method: vs own-dataset reals / vs all reals"
    )
    t.add_column("fakes")
    t.add_column("dataset")
    for n in names:
        t.add_column(n)
    first = results[names[0]]["figures"]
    for method, m in first["per_method"].items():
        cells = []
        for n in names:
            pm = results[n]["figures"]["per_method"][method]
            cells.append(f"{fmt(pm['vs_own_reals'])} / {fmt(pm['vs_all_reals'])}")
        t.add_row(f"{method} ({m['n_fake']})", m["dataset"], *cells)
    for key, label, against in (
        ("ffpp_c40", "FF++ c40, all four", "FF++ c40 reals"),
        ("todays_generators", "talking heads, lip-sync, live swaps", "all reals"),
    ):
        t.add_row(label, against, *[fmt(results[n]["figures"].get(key, {}).get("auc")) for n in names])
    t.add_row("all fakes", "all", *[fmt(results[n]["figures"]["all"]["auc"]) for n in names])
    t.add_row(
        "dev reals flagged", "at threshold", *[fmt(results[n]["figures"]["reals_flagged"]) for n in names]
    )
    t.add_row(
        "dev fakes caught", "at threshold", *[fmt(results[n]["figures"].get("fakes_caught")) for n in names]
    )
    t.add_row(
        "no face / unreadable",
        "",
        *[
            f"{results[n]['figures']['unscored']['no_face']} / {results[n]['figures']['unscored']['error']}"
            for n in names
        ],
    )
    console.print(t)
    d = Table(title="video-dev per dataset (its own reals vs its own fakes, where it has both)")
    d.add_column("dataset")
    for n in names:
        d.add_column(n)
    for dataset, v in first["per_dataset"].items():
        if v["auc"] is not None:
            d.add_row(
                f"{dataset} ({v['n_real']}/{v['n_fake']})",
                *[fmt(results[n]["figures"]["per_dataset"][dataset]["auc"]) for n in names],
            )
    console.print(d)


def _drop_stale(records: Path) -> None:
    """A resumed run must not mix rules: records scored under another video rule are set aside."""
    if not records.is_file():
        return
    rules = {
        json.loads(line).get("rule") for line in records.read_text().splitlines() if '"type": "file"' in line
    }
    if rules - {video_rule(), None}:
        records.rename(records.with_suffix(".stale.jsonl"))
        print(
            f"note: {records} was scored under another rule ({', '.join(sorted(map(str, rules)))}): rescanning"
        )


def _drop_other_weights(folder: Path, model: str) -> None:
    """A resumed run must not reuse another model's scores: a retrained model keeps its name, so the
    folder remembers what decided the scores it holds (the ONNX export's source digest: weights,
    architecture, ``model_kwargs`` - an ensemble refitted on the same members changes only those -
    and calibration) and sets older records aside."""
    folder_of_model = resolve_checkpoint(model)
    digest = source_digest(folder_of_model, read_config(folder_of_model))
    stamp, records = folder / "weights.sha256", folder / "records.jsonl"
    if records.is_file() and (not stamp.is_file() or stamp.read_text().strip() != digest):
        records.rename(records.with_suffix(".other-weights.jsonl"))
        print(f"note: {records} was scored by other weights: rescanning")
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=f"{DEFAULT_MODEL},{PREVIOUS_MODEL}", help="comma-separated")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-video-dev")
    ap.add_argument("--limit", type=int, default=None, help="first N clips only (smoke runs)")
    args = ap.parse_args()
    if not DEV.is_dir():
        raise SystemExit(f"needs ../shared/data/video-dev beside the repository ({DEV} not found)")
    rows = read_dev(args.limit)
    results = {}
    for model in args.model.split(","):
        detector = load_detector(model)
        parts = Path(model).parts[1:] if Path(model).is_absolute() else Path(model).parts
        slug = "-".join(x for x in parts if x not in ("runs", "model", ".", "..")) or Path(model).name
        folder = args.out / f"{slug}-f{args.frames}"  # runs/probe/model -> probe-f32
        _drop_stale(folder / "records.jsonl")
        _drop_other_weights(folder, model)
        folder.mkdir(parents=True, exist_ok=True)
        # resumable: a rerun scans only the clips not yet in records.jsonl
        scan_paths(
            [r["path"] for r in rows],
            folder / "records.jsonl",
            model=detector,
            options=ScanOptions(num_frames=args.frames),
            resume=True,
        )
        files = {}  # every file record, this run's and a resumed run's earlier ones
        for line in (folder / "records.jsonl").read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") == "file":
                files[rec["file"]] = rec
        missing = {"score": None, "verdict": "error", "rule": None}
        scored = [
            {**r, **{k: files.get(r["path"], missing).get(k) for k in ("score", "verdict")}} for r in rows
        ]
        rules = {files[r["path"]].get("rule") for r in rows if r["path"] in files} - {None}
        results[slug] = {
            "model": detector.name,
            "threshold": file_threshold(detector, "video"),
            "rule": sorted(rules),
            "figures": figures(scored, file_threshold(detector, "video")),
        }
    (args.out / "summary.json").write_text(
        json.dumps({"frames": args.frames, "models": results}, indent=2) + "\n"
    )
    print_tables(results)
    print(f"records and summary.json under {args.out}")


if __name__ == "__main__":
    main()
