"""Cross-manipulation benchmark synthesized from ../shared/data, run through the protocol engine.

Every model here trained on FFHQ's *training* split only (with SBI fakes and/or the StyleGAN2
faces' training share). Here it meets held-out FFHQ identities and these test sets:

- ``sbi``: SBI fakes of held-out faces vs the same real crops (for SBI-trained models, the training
  method on new faces: a reference);
- ``faceswap``: landmark face swaps between held-out identities (``fakelens.forge.face_swap``);
- ``freda``: the same swaps after FreDA (low frequencies from the real face, high from the swap);
- ``stylegan2``: the StyleGAN2 faces' test share vs held-out FFHQ photos (both 256 px PNG, whole
  images); a *seen generator* (held-out images) for models whose recipe trains on StyleGAN2;
- ``dfdc``: the DFDC face crops and 10 s clips (frame level, and video level by DFDC id);
- ``att-gray sbi``: SBI fakes of grayscale AT&T faces of held-out people (a new modality; not in
  either mean).

Synthetic sets compare aligned crops with aligned crops (real and fake go through identical
processing), so nothing but the forgery separates them; a model framing faces as ``synth`` did
scores those crops as they are (no second detection and warp). Two summaries per model: the
*cross-manipulation AUC* of issue 3 (mean frame AUC over faceswap, freda, stylegan2, dfdc) and the
*unseen AUC* (the same mean without the sets the model's recipe trained on). Everything goes through
``fakelens.evaluate.protocol_run``. ``--model a,b,c`` benchmarks several models on one manifest and
writes the side-by-side table ``zoo.md`` (with every model benchmarked into the same ``--out`` before).

Usage: python benchmarks/bench_cross_manipulation.py [--model A,B] [--out runs/bench-cross]
       [--limit N] [--robustness jpeg,blur]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from bench_accuracy import SHARED, dfdc_rows, heldout_ffhq, heldout_stylegan2, reference_splits
from rich.console import Console
from rich.table import Table

from fakelens.data.splits import checkpoint_splits
from fakelens.data.synth import synthesize
from fakelens.errors import ConfigError
from fakelens.evaluate.protocol_run import run_protocol
from fakelens.evaluate.protocols import ProtocolConfig, Selection
from fakelens.models.detector import load_detector, resolve_checkpoint

UNSEEN = ("faceswap", "freda", "stylegan2", "dfdc")


def _row(path: str, label: str, dataset: str, method: str | None = None) -> dict:
    return {"path": path, "label": label, "dataset": dataset, "method": method, "split": "test"}


def build_manifest(out: Path, limit: int | None, seed: int, split: str = "dev") -> Path:
    """One manifest with dataset/split columns for every test set. Only DFDC rows carry video ids:
    each photo is its own sample, so the other sets get frame-level figures only."""
    held = heldout_ffhq(split)[:limit] if limit else heldout_ffhq(split)
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
    sg2 = heldout_stylegan2(split)
    rows += [_row(str(p), "fake", "sg2-vs-ffhq", "stylegan2") for p in (sg2[:limit] if limit else sg2)]
    for r in dfdc_rows():
        rows.append({**r, "dataset": "dfdc", "split": "test", "video_id": f"dfdc/{r['video_id']}"})
    rows += grayscale_rows(out, limit, seed, split)
    path = out / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def grayscale_rows(out: Path, limit: int | None, seed: int, split: str = "dev") -> list[dict]:
    """SBI fakes of AT&T faces of held-out *people* (split by identity folder) vs the same real crops,
    all turned to grayscale after blending (SBI's colour jitter would otherwise tell them apart): what
    a near-infrared or grayscale camera would hand a detector."""
    rule = reference_splits().rule  # the same group rule, applied to people (one folder each)
    people = sorted(
        d for d in (SHARED / "att-faces").iterdir() if d.is_dir() and rule.assign(d.name) == split
    )
    files = [p for d in people for p in sorted(d.glob("*.pgm"))]
    files = files[:limit] if limit else files
    src = out / "att-heldout"
    src.mkdir(parents=True, exist_ok=True)
    for p in files:
        link = src / f"{p.parent.name}_{p.name}"
        if not link.exists():
            link.symlink_to(p.resolve())
    synth = synthesize(src, out / "att-synth", methods=("sbi",), seed=seed, progress=True)
    rows = []
    for line in synth.manifest.read_text().splitlines():
        r = json.loads(line)
        path = (out / "att-synth" / r["path"]).resolve()
        img = cv2.imread(str(path))
        if img.ndim == 3 and not (
            np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])
        ):
            cv2.imwrite(str(path), cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR))
        rows.append(_row(str(path), r["label"], "att-gray", r["method"]) | {"aligned": r["aligned"]})
    return rows


def protocol(manifest: Path) -> ProtocolConfig:
    held = ["ffhq-heldout"]
    tests = {
        "sbi": Selection(datasets=["ffhq-sbi"], real_datasets=[*held, "ffhq-sbi"]),
        "faceswap": Selection(datasets=held, methods=["faceswap"]),
        "freda": Selection(datasets=held, methods=["freda"]),
        "stylegan2": Selection(datasets=["sg2-vs-ffhq"]),
        "dfdc": Selection(datasets=["dfdc"]),
        "att-gray sbi": Selection(datasets=["att-gray"]),
    }
    # the model is already trained (on FFHQ's train split), so no training rows are selected
    return ProtocolConfig(
        name="cross-manipulation",
        kind="custom",
        manifests=[manifest],
        train=Selection(splits=["none"]),
        tests=tests,
    )


def seen_sets(cfg: dict) -> set[str]:
    """Test sets whose forgery the model (or an ensemble member) trained on, from its recipe."""
    recipes = [(cfg.get("training") or {}).get("recipe") or {}]
    recipes += [((m.get("training") or {}).get("recipe") or {}) for m in cfg.get("members", [])]
    data = [r.get("data") or {} for r in recipes if r]
    seen = {"sbi"} if any(d.get("sbi", True) for d in data) else set()
    if any("stylegan2" in str(f) for d in data for f in d.get("fake_dirs", [])):
        seen.add("stylegan2")
    # the quality method trains on FreDA'd fakes (recipe ``method.name``; ``train.strategy`` before)
    methods = [(r.get("method") or {}).get("name") or (r.get("train") or {}).get("strategy") for r in recipes]
    if "quality" in methods:
        seen.add("freda")
    return seen


def check_unseen(model: str | None, manifest: Path) -> None:
    """A benchmarked model must not have trained or selected on any test file: checked against its
    own ``splits.json`` where it has one (a zoo model from ``runs/``, a shipped model)."""
    try:
        own = checkpoint_splits(resolve_checkpoint(model), SHARED)
    except ConfigError:
        print(f"note: {model or 'default'} has no splits.json: its training files cannot be checked")
        return
    used = {p.resolve() for k in ("train", "val") for kind in ("reals", "fakes") for p in own.files(k, kind)}
    tested = {Path(json.loads(line)["path"]).resolve() for line in manifest.read_text().splitlines()}
    leaked = used & tested
    if leaked:
        raise SystemExit(
            f"{model}: {len(leaked)} test files were in its train/val splits (e.g. {min(leaked)})"
        )


def benchmark(model: str | None, manifest: Path, out: Path, args) -> dict:
    t0 = time.time()
    detector = load_detector(model, backend="torch" if args.tta else "auto")
    if args.tta:  # opt-in ACMF test-time adaptation: adapts to each unlabelled test batch
        from fakelens.evaluate.tta import AttentionConsistencyTTA, source_pairs

        files = [
            p for p in reference_splits().files("train") if "ffhq-real" in p.parts
        ]  # training share only
        src = out / "tta-source"
        src.mkdir(parents=True, exist_ok=True)
        for f in files[:64]:
            if not (src / f.name).exists():
                (src / f.name).symlink_to(f.resolve())
        detector = AttentionConsistencyTTA.wrap(detector, source_pairs(src, detector.face))
    check_unseen(model, manifest)
    cfg = protocol(manifest).model_copy(update={"num_frames": args.frames})
    summary = run_protocol(cfg, out / "protocol", model=detector)
    rows = summary["rows"]
    frame_auc = {r["test"]: r["auc"] for r in rows if r["level"] == "frame_level" and r["auc"] is not None}
    seen = seen_sets(detector.config)
    mean = lambda names: float(np.mean([frame_auc[n] for n in names if n in frame_auc]))  # noqa: E731
    result = {
        "model": detector.name,
        "rows": rows,
        "cross_manipulation_auc": mean(UNSEEN),
        "unseen_sets": [n for n in UNSEEN if n not in seen],
        "unseen_auc": mean([n for n in UNSEEN if n not in seen]),
        "seen_sets": sorted(seen),
        "split": args.split,
        "training_seconds": training_seconds(detector.config, resolve_checkpoint(model) if model else None),
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
        result["_tables"] = summary_tables(rob)
    return result


def training_seconds(cfg: dict, folder: Path | None = None) -> float | None:
    """Whole training run's time: the run's metrics.jsonl beside the checkpoint when there is one,
    else the time to the best epoch from the checkpoint (an ensemble: its members' sum plus fitting)."""
    log = folder.parent / "metrics.jsonl" if folder is not None else None
    lines = log.read_text().strip().splitlines() if log is not None and log.is_file() else []
    if lines:
        return json.loads(lines[-1])["seconds"]
    own = (cfg.get("training") or {}).get("seconds")
    members = [(m.get("training") or {}).get("seconds") for m in cfg.get("members", [])]
    if members and all(s is not None for s in members):
        return round(sum(members) + cfg.get("seconds", 0.0), 1)
    return own


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model",
        default=None,
        help="checkpoint folder(s) or shipped name(s), comma-separated (default: default)",
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
    ap.add_argument(
        "--tta", action="store_true", help="ACMF test-time adaptation (opt-in; uses unlabelled test batches)"
    )
    ap.add_argument(
        "--split",
        choices=("dev", "final"),
        default="dev",
        help="held-out split: dev (reported, may guide choices) or final (read only for a final report)",
    )
    args = ap.parse_args()
    out = args.out.absolute()
    manifest = build_manifest(out / args.split, args.limit, args.seed, args.split)
    models = args.model.split(",") if args.model else [None]
    console = Console()
    results = []
    for model in models:
        slug = (
            "-".join(x for x in Path(model).parts if x not in ("runs", "model", ".", ".."))
            if model
            else "default"
        )
        sub = out / "models" / (slug + ("-tta" if args.tta else "")) if args.model else out
        result = benchmark(model, manifest, sub, args)
        tables = result.pop("_tables", [])
        (sub / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
        print_table(result)
        for table in tables:
            console.print(table)
        if tables:
            console.print(f"robustness on the faceswap set: {result['robustness_seconds']} s")
        results.append(result)
    if args.model:  # every model benchmarked into this folder so far, in the order they ran
        done = sorted((out / "models").glob("*/summary.json"), key=lambda f: f.stat().st_mtime)
        md = zoo_markdown([json.loads(f.read_text()) for f in done])
        (out / "zoo.md").write_text(md)
        console.print(md)
        console.print(f"written: {out / 'zoo.md'}")


def zoo_markdown(results: list[dict]) -> str:
    """Every model x every test set (frame level; DFDC also video level) in one table."""
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    cols = [("sbi", "frame"), *[(n, "frame") for n in UNSEEN], ("dfdc", "video"), ("att-gray sbi", "frame")]
    head = ["model", *[f"{t} ({lvl})" for t, lvl in cols], "cross-manip. AUC", "unseen AUC", "train min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        auc = {(x["test"], x["level"].replace("_level", "")): x["auc"] for x in r["rows"]}
        cells = [fmt(auc.get(c)) + (" (seen)" if c[0] in r["seen_sets"] else "") for c in cols]
        minutes = "n/a" if r["training_seconds"] is None else f"{r['training_seconds'] / 60:.1f}"
        row = [r["model"], *cells, fmt(r["cross_manipulation_auc"]), fmt(r["unseen_auc"]), minutes]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def print_table(result: dict) -> None:
    table = Table(title=f"cross-manipulation benchmark - model {result['model']}")
    for col in ("test set", "level", "real", "fake", "AUC", "AP", "EER"):
        table.add_column(col)
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for r in result["rows"]:
        level = r["level"].replace("_level", "")
        seen = " (seen)" if r["test"] in result["seen_sets"] else ""
        table.add_row(
            r["test"] + seen,
            level,
            str(r["n_real"]),
            str(r["n_fake"]),
            fmt(r["auc"]),
            fmt(r["ap"]),
            fmt(r["eer"]),
        )
    console = Console()
    console.print(table)
    console.print(
        f"cross-manipulation AUC (mean frame-level AUC over {', '.join(UNSEEN)}): "
        f"{fmt(result['cross_manipulation_auc'])}; over the sets it never trained on "
        f"({', '.join(result['unseen_sets'])}): {fmt(result['unseen_auc'])}   [{result['seconds']} s]"
    )


if __name__ == "__main__":
    main()
