"""GAN and diffusion faces vs real photos from many cameras (issue 12), side by side in one run.

(a) Leave-one-generator-out (frame-level, one face per image): each linear-probe recipe (the stage
    probe, the spectrum probe) refitted with one family's fakes left out (``evaluate/generators.py``),
    tested on every image of that family vs the held-out real photos, and the two fused by the max of
    their scores standardised on each fold's validation reals. Unseen generators by construction.
(b) Each ``--model`` (default: the still-image candidate and the shipped default) through
    ``evaluate_manifest`` (scan's face pipeline and rule): AUC of each family's held-out share vs the
    held-out reals (``seen`` = the model trained on that family's other images), and false alarms at
    the model's own threshold on every real source: as given, re-saved as JPEG quality 60, and
    resized to half size (the whole photo, before face detection).

Held-out files are the ``--split`` share (dev by default) of the probe recipe's split: real photos
(photos-real by person within each source, FFHQ; the recipe's video frames are left to the video
benchmark) and fakes; FFHQ and StyleGAN2 keep the split every recipe gives them.
Usage: python benchmarks/bench_synthetic.py [--model A,B] [--split dev] [--no-logo]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from fakelens.data.facecache import build_faceset
from fakelens.evaluate.generators import family_of, fused_folds, leave_one_generator_out
from fakelens.evaluate.run import evaluate_manifest
from fakelens.faces.pipeline import FaceConfig
from fakelens.media import load_image
from fakelens.metrics import binary_metrics
from fakelens.models.checkpoint import PREVIOUS_MODEL
from fakelens.models.detector import DEFAULT_MODEL, load_detector
from fakelens.models.registry import create_model
from fakelens.preprocess import Preprocess
from fakelens.scan import ScanOptions, scan_paths
from fakelens.train.config import TrainConfig
from fakelens.train.data import data_splits, load_faces

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RECIPE = ROOT / "configs" / "models" / "probe-lite2-photos.yaml"  # its split defines the held-out files
LOGO_RECIPES = [RECIPE, ROOT / "configs" / "models" / "spectrum-photos.yaml"]


WHOLE = "+whole"  # --model NAME+whole: scored with the whole picture too (scan --whole-image)


def real_sources() -> dict[str, str]:
    """photos-real file -> its source (the manifest's method column); FFHQ is one more source."""
    out = {}
    with (SHARED / "photos-real" / "MANIFEST.tsv").open() as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            out[str(SHARED / "photos-real" / r["relative_path"])] = r["method"]
    return out


def source_of(path: Path, sources: dict[str, str]) -> str:
    return sources.get(str(path), "FFHQ" if "ffhq-real" in path.parts else path.parent.name)


def degraded_copies(reals: list[Path], out: Path) -> dict[str, list[Path]]:
    """Each held-out real photo re-saved as JPEG 60 and resized to half (PNG: only the resize)."""
    made = {"jpeg60": [], "half": []}
    for kind in made:
        (out / kind).mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(reals):
        img = load_image(p)[..., ::-1]
        a, b = out / "jpeg60" / f"{i:05d}.jpg", out / "half" / f"{i:05d}.png"
        cv2.imwrite(str(a), img, [cv2.IMWRITE_JPEG_QUALITY, 60])
        h, w = img.shape[:2]
        cv2.imwrite(str(b), cv2.resize(img, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA))
        made["jpeg60"].append(a)
        made["half"].append(b)
    return made


def score_files(model, rows: list[dict], out: Path) -> dict[str, float]:
    """File -> its score through scan's pipeline (max over faces); files without a face are absent."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "label", "method"])
        w.writeheader()
        w.writerows(rows)
    evaluate_manifest(manifest, out, model=model, progress=False)
    scores = {}
    for line in (out / "scores.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "score" in r:
            scores[r["path"]] = max(r["score"], scores.get(r["path"], 0.0))
    return scores


def whole_image_scores(detector, paths: list[Path]) -> dict[str, float]:
    """File -> its score as `fakelens scan --whole-image` gives it (files without a face are absent)."""
    records = scan_paths(paths, model=detector, options=ScanOptions(whole_image=True), progress=False)
    return {r.file: r.score for r in records if r.score is not None}


def model_table(name: str, reals, fakes, degraded, sources, out: Path) -> dict:
    """``name`` is a shipped model or checkpoint; ``NAME+whole`` scores it as --whole-image does."""
    whole = name.endswith(WHOLE)
    detector = load_detector(name.removesuffix(WHOLE))
    rows = [{"path": str(p), "label": "real", "method": ""} for p in reals]
    rows += [{"path": str(p), "label": "fake", "method": family_of(p)} for p in fakes]
    for kind, paths in degraded.items():
        rows += [{"path": str(p), "label": "real", "method": kind} for p in paths]
    slug = name.replace("/", "_")
    if whole:
        s = whole_image_scores(detector, [Path(r["path"]) for r in rows])
    else:
        s = score_files(detector, rows, out / slug)
    real_s = np.array([s[str(p)] for p in reals if str(p) in s])
    fams = defaultdict(list)
    for p in fakes:
        if str(p) in s:
            fams[family_of(p)].append(s[str(p)])
    auc = {}
    for fam, vals in sorted(fams.items()):
        y = np.r_[np.zeros(len(real_s)), np.ones(len(vals))].astype(int)
        auc[fam] = {"n": len(vals), "auc": binary_metrics(y, np.r_[real_s, vals])["auc"]}
    fa = defaultdict(dict)
    by_source = defaultdict(list)
    for i, p in enumerate(reals):
        by_source[source_of(p, sources)].append(i)
    for src, idx in sorted(by_source.items()):
        for kind, paths in (("as given", reals), *degraded.items()):
            vals = [s[str(paths[i])] for i in idx if str(paths[i]) in s]
            fa[src][kind] = (
                len(vals),
                float(np.mean(np.array(vals) >= detector.threshold)) if vals else None,
            )
    label = detector.name + (" --whole-image" if whole else "")
    return {"model": label, "threshold": detector.threshold, "auc": auc, "false_alarms": fa}


def logo_faces(cfg: TrainConfig, reals: list[Path], fakes_split: dict, loaded: dict) -> tuple:
    """The recipe's training faces, the held-out photos (as in (b)) and every fake; recipes with the
    same data and face sections (the stage and spectrum probes) share one load."""
    key = json.dumps([cfg.face, cfg.data.model_dump(mode="json")], sort_keys=True)
    if key not in loaded:
        face = FaceConfig.from_dict(cfg.face)
        every_fake = [p for part in ("train", "val", "dev", "final") for p in fakes_split[part]]
        loaded[key] = (
            load_faces(cfg.data, face),
            build_faceset(reals, face, cfg.data.cache_dir),
            build_faceset(every_fake, face, cfg.data.cache_dir),
        )
    return loaded[key]


def logo_folds(cfg: TrainConfig, reals: list[Path], fakes_split: dict, loaded: dict) -> list:
    """(a) for one linear-probe recipe: its own model, faces and pipeline options."""
    faces, heldout, all_fakes = logo_faces(cfg, reals, fakes_split, loaded)
    # the recipe's own representation (its kwargs: e.g. the probe's stages without the last layer)
    model = create_model(cfg.model.architecture, pretrained=True, drop_rate=0.0, **cfg.model.kwargs)
    pre = Preprocess(cfg.model.input_size, tuple(cfg.model.mean), tuple(cfg.model.std))
    opts = cfg.resolve_method()
    return leave_one_generator_out(
        model, pre, faces, heldout, all_fakes, opts.c_grid, opts.copies, video_share=opts.video_share
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=f"{DEFAULT_MODEL},{PREVIOUS_MODEL}")
    ap.add_argument("--split", choices=("dev", "final"), default="dev")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-synthetic")
    ap.add_argument("--no-logo", action="store_true", help="skip (a), the leave-one-generator-out refits")
    args = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"needs ../shared/data beside the repository ({SHARED} not found)")
    args.out = args.out.resolve()
    cfg = TrainConfig.from_yaml(RECIPE)
    reals_split, fakes_split, _ = data_splits(cfg.data)
    photo = (
        "photos-real",
        "ffhq-real",
    )  # the recipe's video frames are reals too, but this is a photo benchmark
    reals = [p for p in reals_split[args.split] if any(d in p.parts for d in photo)]
    fakes = fakes_split[args.split]
    sources = real_sources()
    report = {"split": args.split, "recipe": str(RECIPE.relative_to(ROOT))}

    if not args.no_logo:
        loaded: dict = {}
        runs = {
            r.stem: logo_folds(TrainConfig.from_yaml(r), reals, fakes_split, loaded) for r in LOGO_RECIPES
        }
        runs["max of both, standardised"] = fused_folds(list(runs.values()))
        report["leave_one_generator_out"] = [f.record() for f in runs[RECIPE.stem]]  # the default's probe
        report["leave_one_generator_out_by_recipe"] = {k: [f.record() for f in v] for k, v in runs.items()}

    degraded = degraded_copies(reals, args.out / "degraded")
    tables = [
        model_table(m.strip(), reals, fakes, degraded, sources, args.out) for m in args.model.split(",")
    ]
    report["models"] = tables
    (args.out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"\nheld-out split: {args.split} (reals by person within each source); frame-level, one face per image"
    )
    for name, folds in report.get("leave_one_generator_out_by_recipe", {}).items():
        print(f"\n(a) leave-one-generator-out, {name}: linear probe refitted per fold (unseen family)")
        print(f"{'family held out':22} {'fakes':>5} {'reals':>5} {'AUC':>6} {'caught@5%FA':>11} {'C':>6}")
        for f in folds:
            counts = f"{f['family']:22} {f['n_fake']:5d} {f['n_real']:5d}"
            print(f"{counts} {f['auc']:6.3f} {f['caught']:11.2f} {f['chosen_c']:6g}")
        mean = np.mean([f["auc"] for f in folds])
        print(f"{'mean':22} {'':5} {'':5} {mean:6.3f}   (target: each >= 0.95, mean >= 0.97)")
    print(
        "\n(b) shipped models on the held-out share (families the model trained on are 'seen'), AUC vs held-out reals"
    )
    fams = sorted({f for t in tables for f in t["auc"]})
    print(f"{'family':22} {'n':>4} " + " ".join(f"{t['model'][:24]:>24}" for t in tables))
    for fam in fams:
        n = tables[0]["auc"].get(fam, {}).get("n", 0)
        cells = [t["auc"].get(fam, {}).get("auc") for t in tables]
        print(
            f"{fam:22} {n:4d} " + " ".join(f"{c:24.3f}" if c is not None else f"{'n/a':>24}" for c in cells)
        )
    print(
        "\nfalse alarms at each model's threshold per real source (as given / JPEG 60 / half size); target <= 5 %"
    )
    print(f"{'source':26} {'n':>4} " + " ".join(f"{t['model'][:24]:>24}" for t in tables))
    for src in sorted(tables[0]["false_alarms"]):
        n = tables[0]["false_alarms"][src]["as given"][0]
        cells = []
        for t in tables:
            vals = [t["false_alarms"][src][k][1] for k in ("as given", "jpeg60", "half")]
            cells.append("/".join("  - " if v is None else f"{100 * v:3.0f}%" for v in vals))
        print(f"{src[:26]:26} {n:4d} " + " ".join(f"{c:>24}" for c in cells))
    print(f"\nsummary: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
