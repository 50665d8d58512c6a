"""Cross-manipulation benchmark synthesized from ../shared/data, run through the protocol engine.

The default model was trained on self-blended (SBI) fakes of FFHQ's *training* split only. Here it
meets held-out FFHQ identities and forgeries it never saw:

- ``sbi (seen)``: SBI fakes of held-out faces vs the same real crops (the training method: a reference);
- ``faceswap``: landmark face swaps between held-out identities (``fakelens.forge.face_swap``);
- ``freda``: the same swaps after FreDA (low frequencies from the real face, high from the swap);
- ``stylegan2``: StyleGAN2 faces vs held-out FFHQ photos (both 256 px PNG, whole images);
- ``dfdc``: the DFDC face crops and 10 s clips (frame level, and video level by DFDC id).

Synthetic sets compare aligned crops with aligned crops (real and fake go through identical
processing), so nothing but the forgery separates them; a model framing faces as ``synth`` did
scores those crops as they are (no second detection and warp). The cross-manipulation AUC is the mean
frame-level AUC over the unseen sets. Everything goes through ``fakelens.evaluate.protocol_run``.

Usage: python benchmarks/bench_cross_manipulation.py [--model DIR] [--out runs/bench-cross]
       [--limit N] [--robustness jpeg,blur]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_accuracy import SHARED, dfdc_rows, heldout_ffhq
from rich.console import Console
from rich.table import Table

from fakelens.data.synth import synthesize
from fakelens.evaluate.protocol_run import run_protocol
from fakelens.evaluate.protocols import ProtocolConfig, Selection
from fakelens.media.kinds import IMAGE_EXTENSIONS
from fakelens.models.detector import load_detector

UNSEEN = ("faceswap", "freda", "stylegan2", "dfdc")


def _row(path: str, label: str, dataset: str, method: str | None = None) -> dict:
    return {"path": path, "label": label, "dataset": dataset, "method": method, "split": "test"}


def build_manifest(out: Path, limit: int | None, seed: int) -> Path:
    """One manifest with dataset/split columns for every test set. Only DFDC rows carry video ids:
    each photo is its own sample, so the other sets get frame-level figures only."""
    held = heldout_ffhq()[:limit] if limit else heldout_ffhq()
    reals_dir = out / "heldout-ffhq"
    reals_dir.mkdir(parents=True, exist_ok=True)
    for p in held:  # synth reads a folder: link the held-out split into one
        link = reals_dir / p.name
        if not link.exists():
            link.symlink_to(p.resolve())
    synth = synthesize(
        reals_dir, out / "synth", methods=("sbi", "faceswap", "freda"), seed=seed, progress=True
    )
    rows = []
    for line in synth.manifest.read_text().splitlines():
        r = json.loads(line)
        # SBI fakes and the colour-jittered reals they were blended into form their own pair set
        sbi_pair = r["method"] == "sbi" or r["path"].endswith("_sbi.png")
        path = str((out / "synth" / r["path"]).resolve())
        row = _row(path, r["label"], "ffhq-sbi" if sbi_pair else "ffhq-heldout", r["method"])
        rows.append(row | {"aligned": r["aligned"]})  # scored as the crops they are, not re-detected
    for p in held:  # StyleGAN2 vs the held-out FFHQ photos: whole 256 px images on both sides
        rows.append(_row(str(p), "real", "sg2-vs-ffhq"))
    sg2 = sorted(x for x in (SHARED / "stylegan2-fake").rglob("*") if x.suffix.lower() in IMAGE_EXTENSIONS)
    rows += [_row(str(p), "fake", "sg2-vs-ffhq", "stylegan2") for p in (sg2[:limit] if limit else sg2)]
    for r in dfdc_rows():
        rows.append({**r, "dataset": "dfdc", "split": "test", "video_id": f"dfdc/{r['video_id']}"})
    path = out / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def protocol(manifest: Path) -> ProtocolConfig:
    held = ["ffhq-heldout"]
    tests = {
        "sbi (seen)": Selection(datasets=["ffhq-sbi"], real_datasets=[*held, "ffhq-sbi"]),
        "faceswap": Selection(datasets=held, methods=["faceswap"]),
        "freda": Selection(datasets=held, methods=["freda"]),
        "stylegan2": Selection(datasets=["sg2-vs-ffhq"]),
        "dfdc": Selection(datasets=["dfdc"]),
    }
    # the model is already trained (on FFHQ's train split), so no training rows are selected
    return ProtocolConfig(
        name="cross-manipulation",
        kind="custom",
        manifests=[manifest],
        train=Selection(splits=["none"]),
        tests=tests,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", default=None, help="checkpoint folder or shipped name (default: shipped default)"
    )
    ap.add_argument("--out", type=Path, default=Path("runs/bench-cross"))
    ap.add_argument(
        "--limit", type=int, default=None, help="use only the first N held-out faces (smoke runs)"
    )
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument(
        "--robustness", default="", help="comma-separated perturbations to run on the faceswap set"
    )
    args = ap.parse_args()
    out = args.out.absolute()
    t0 = time.time()
    manifest = build_manifest(out, args.limit, args.seed)
    detector = load_detector(args.model)
    cfg = protocol(manifest).model_copy(update={"num_frames": args.frames})
    summary = run_protocol(cfg, out / "protocol", model=detector)
    rows = summary["rows"]
    unseen = [
        r["auc"] for r in rows if r["test"] in UNSEEN and r["level"] == "frame_level" and r["auc"] is not None
    ]
    result = {
        "model": detector.name,
        "rows": rows,
        "cross_manipulation_auc": float(np.mean(unseen)) if unseen else None,
        "unseen_sets": list(UNSEEN),
        "seconds": round(time.time() - t0, 1),
    }
    if args.robustness:
        from fakelens.evaluate.results import robustness_rows
        from fakelens.evaluate.robustness import evaluate_robustness, summary_tables

        faceswap = next(Path(p["tests"]["faceswap"]["manifest"]) for p in summary["folds"])
        rob = evaluate_robustness(
            faceswap, out / "robustness-faceswap", model=detector, perturbations=args.robustness.split(",")
        )
        result["robustness_faceswap"] = str(out / "robustness-faceswap")
        result["robustness_rows"] = robustness_rows(rob)
        result["robustness_seconds"] = round(time.time() - t0 - result["seconds"], 1)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    if args.robustness:
        console = Console()
        for table in summary_tables(rob):
            console.print(table)
        console.print(f"robustness on the faceswap set: {result['robustness_seconds']} s")


def print_table(result: dict) -> None:
    table = Table(title=f"cross-manipulation benchmark - model {result['model']} (trained on SBI only)")
    for col in ("test set", "level", "real", "fake", "AUC", "AP", "EER"):
        table.add_column(col)
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for r in result["rows"]:
        level = r["level"].replace("_level", "")
        table.add_row(
            r["test"], level, str(r["n_real"]), str(r["n_fake"]), fmt(r["auc"]), fmt(r["ap"]), fmt(r["eer"])
        )
    console = Console()
    console.print(table)
    console.print(
        f"cross-manipulation AUC (mean frame-level AUC over {', '.join(result['unseen_sets'])}): "
        f"{fmt(result['cross_manipulation_auc'])}   [{result['seconds']} s]"
    )


if __name__ == "__main__":
    main()
