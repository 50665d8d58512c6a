"""Accuracy of a model (default: the shipped one) on data it never trained on.

(a) SBI fakes of held-out FFHQ photos vs the same real photos (frame-level);
(b) StyleGAN2 faces of the held-out share vs held-out FFHQ reals (frame-level);
both from the ``dev`` split of the default's ``splits.json`` (``--split final`` for a final report);
(c) DFDC samples: face crops + the two 10 s clips, frame-level and video-level (video = DFDC id).

Every figure goes through ``evaluate_manifest``, i.e. the same face pipeline as ``fakelens scan``.
Usage: python benchmarks/bench_accuracy.py [--model DIR] [--out runs/bench-accuracy] [--frames 32] [--split dev]
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
from pathlib import Path

import cv2
import numpy as np

from fakelens.data.splits import checkpoint_splits
from fakelens.evaluate.run import evaluate_manifest
from fakelens.faces import FacePipeline
from fakelens.forge import self_blend_photo
from fakelens.media import load_image
from fakelens.models.detector import DEFAULT_MODEL, load_detector, resolve_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@functools.cache
def reference_splits():
    """The splits the shipped default trained under (its ``splits.json``): every benchmark reads its
    held-out files from there, never re-deriving them."""
    return checkpoint_splits(resolve_checkpoint(DEFAULT_MODEL), SHARED)


def heldout_ffhq(split: str = "dev") -> list[Path]:
    """FFHQ photos of a held-out split (``dev``: benchmarks report on it; ``final``: read only for a
    final report): never seen in training or checkpoint selection."""
    return [p for p in reference_splits().files(split) if "ffhq-real" in p.parts]


def heldout_stylegan2(split: str = "dev") -> list[Path]:
    """StyleGAN2 faces of a held-out split of the default's ``fake_dirs`` (NPR and the ensemble train
    and validate on the rest)."""
    return [p for p in reference_splits().files(split, "fakes") if "stylegan2-fake" in p.parts]


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "video_id", "method"])
        w.writeheader()
        w.writerows(rows)
    return path


def sbi_fakes(reals: list[Path], out: Path, face_pipeline: FacePipeline, seed: int = 2024) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    fakes = []
    for i, p in enumerate(reals):
        result = self_blend_photo(load_image(p), face_pipeline, np.random.default_rng([seed, i]))
        if result is None:
            continue
        dst = out / f"sbi-{p.stem}.png"
        cv2.imwrite(str(dst), result.fake[..., ::-1])
        fakes.append(dst)
    return fakes


def dfdc_rows() -> list[dict]:
    rows = []
    with (SHARED / "dfdc-samples" / "MANIFEST.tsv").open() as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            if r["label"] not in ("real", "fake"):
                continue
            name = Path(r["relative_path"]).name
            vid = name.split("-")[0].split(".")[0]  # DFDC id: unique per source video
            kind = "clip" if name.endswith(".mp4") else "crop"
            rows.append(
                {
                    "path": str(SHARED / "dfdc-samples" / r["relative_path"]),
                    "label": r["label"],
                    "video_id": vid,
                    "method": f"dfdc-{kind}",
                }
            )
    return rows


def fmt(v):
    return "  n/a " if v is None else f"{v:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-accuracy")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument(
        "--split",
        choices=("dev", "final"),
        default="dev",
        help="held-out split: dev (reported, may guide choices) or final (read only for a final report)",
    )
    args = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"needs ../shared/data beside the repository ({SHARED} not found)")
    detector = load_detector(args.model)
    # manifests hold absolute paths (relative ones would resolve against the manifest's folder)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    reals = heldout_ffhq(args.split)
    fakes = sbi_fakes(reals, args.out / "sbi-fakes", FacePipeline(detector.face))
    stylegan = heldout_stylegan2(args.split)  # a held-out share: NPR trains on the rest
    real_rows = [{"path": str(p), "label": "real", "video_id": "", "method": ""} for p in reals]
    suites = {
        "a_sbi_heldout_ffhq": real_rows
        + [{"path": str(p), "label": "fake", "video_id": "", "method": "sbi"} for p in fakes],
        "b_stylegan2_vs_ffhq": real_rows
        + [{"path": str(p), "label": "fake", "video_id": "", "method": "stylegan2"} for p in stylegan],
        "c_dfdc_samples": dfdc_rows(),
    }
    results = {}
    for name, rows in suites.items():
        manifest = write_manifest(args.out / f"{name}.csv", rows)
        results[name] = evaluate_manifest(manifest, args.out / name, model=detector, num_frames=args.frames)
    (args.out / "summary.json").write_text(json.dumps({"split": args.split, **results}, indent=2))
    print(
        f"\nmodel {detector.name} (threshold {detector.threshold:.3f}); frames per video {args.frames}; "
        f"FFHQ/StyleGAN2 split: {args.split}"
    )
    print(
        f"{'suite':24} {'level':12} {'n':>5} {'real':>5} {'fake':>5} {'AUC':>7} {'AP':>7} {'EER':>7} {'ACC':>7}"
        f"  no_face/error rows"
    )
    for name, res in results.items():
        for level in ("frame_level", "video_level"):
            m = res["metrics"].get(level)
            if not m:
                continue
            print(
                f"{name:24} {level:12} {m['n']:5d} {m['n_real']:5d} {m['n_fake']:5d} {fmt(m['auc']):>7} "
                f"{fmt(m['ap']):>7} {fmt(m['eer']):>7} {fmt(m['acc']):>7}  {res['rows_no_face']}/{res['rows_error']}"
            )
    print(f"\nper-suite folders (metrics.json, roc.png, scores.jsonl) under {args.out}")


if __name__ == "__main__":
    main()
