"""Write a shipped model's MODEL_CARD.md from its config.json (training record, members, calibration)
and the benchmark outputs, so every figure in the card is one that a command measured.

Usage: python scripts/model_card.py WEIGHTS_DIR [--accuracy runs/bench-accuracy/summary.json]
       [--speed runs/bench-speed/summary.json] [--cross runs/bench-cross/summary.json]
       [--zoo-speed runs/bench-zoo-speed/summary.json] [--video-dev runs/bench-video-dev/summary.json]
       [--synthetic runs/bench-synthetic/summary.json] [--notes NOTES.md]
The benchmark tables are in card_tables.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from card_tables import cross_table, fmt, synthetic_table, video_dev_table

from fakelens.models.detector import DEFAULT_MODEL

# the Makefile target that rebuilds each shipped model by its recipe
REBUILD = {
    DEFAULT_MODEL: "train-default",
    "video-npr-ensemble": "train-previous",
    "sbi-nprsoft-ensemble-ffhq": "train-ffhq",
    "sbi-effnet-lite0-ffhq": "train-ffhq",
}


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path and path.is_file() else None


def accuracy_table(summary: dict) -> str:
    rows = [
        "| test set | level | n (real/fake) | AUC | AP | EER | ACC@threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, res in summary.items():
        if not isinstance(res, dict) or "metrics" not in res:  # e.g. "split"
            continue
        for level in ("frame_level", "video_level"):
            m = res["metrics"].get(level)
            if m:
                rows.append(
                    f"| {name} | {level.replace('_', '-')} | {m['n']} ({m['n_real']}/{m['n_fake']}) | {fmt(m['auc'])} "
                    f"| {fmt(m['ap'])} | {fmt(m['eer'])} | {fmt(m['acc'])} |"
                )
    return "\n".join(rows)


def trained_before_lines(cfg: dict) -> list[str]:
    """What changed in the recipe's code since these weights were trained (fakelens 0.1.0 weights
    predate the 2026-12 foundations: the SBI generator now follows the official code)."""
    nets = [(m["name"], m.get("training") or {}) for m in cfg.get("members", [])] or [
        (cfg["name"], cfg.get("training") or {})
    ]

    def sbi(t: dict) -> bool:
        return ((t.get("recipe") or {}).get("data") or {}).get("sbi", True)

    old = [name for name, t in nets if "method" not in t]  # trained before the method plugins
    # a warm start's source: the shipped SBI Lite0 of fakelens 0.1.0
    warm = [
        t["recipe"]["model"]["init_from"]
        for _, t in nets
        if (t.get("recipe") or {}).get("model", {}).get("init_from")
    ]
    with_sbi = [n for n, t in nets if n in old and sbi(t)] + warm
    lines = [
        f"- `{n}`: trained with fakelens 0.1.0, before the 2026-12 foundations."
        for n in old
        if n not in with_sbi
    ]
    if not with_sbi:
        return lines
    who = ", ".join(f"`{n}`" for n in with_sbi)
    return lines + [
        f"- Trained, or warm-started from weights trained, before the 2026-12 foundations ({who}): SBI fakes came "
        "from the earlier generator (colour jitter "
        "at p=0.3 and stronger saturation, the mask not moved with the source, a relative soft-mask size), which "
        "`fakelens.forge.sbi` no longer makes; `make train-default` now trains on the official-code SBI and "
        "will give other weights. The benchmarks' SBI test fakes come from the new generator."
    ]


def real_sources(data: dict) -> str:
    """The real faces a recipe trained on, by source folder (a manifest names its synth set)."""
    names = [Path(d).name for d in data.get("real_dirs") or []]
    if data.get("manifest"):
        names.insert(0, f"frames of video-real ({Path(data['manifest']).parent.name})")
    kept = ", ".join(names) or "FFHQ"
    left = data.get("exclude_groups") or []
    return kept + (f", groups {', '.join(left)} left out" if left else "")


def uses_video(cfg: dict) -> bool:
    members = [m.get("training") or {} for m in cfg.get("members", [])] or [cfg.get("training") or {}]
    return any((t.get("recipe") or {}).get("data", {}).get("manifest") for t in members)


def network_lines(name: str, cfg: dict, training: dict | None) -> list[str]:
    """What one trained network saw and how it was trained, from its checkpoint's training record."""
    if not training:
        return [f"- `{name}`: no training record in its config."]
    recipe = training.get("recipe", {})
    data, tr, model = recipe.get("data", {}), recipe.get("train", {}), recipe.get("model", {})
    fakes = []
    if data.get("sbi", True):
        fakes.append("Self-Blended Images made on the fly from each real face")
    if training.get("train_ready_made_fakes"):
        dirs = ", ".join(Path(d).name for d in data.get("fake_dirs", []))
        synth_fakes = data.get("manifest") and data.get("manifest_fakes", True)
        if synth_fakes:
            dirs = ", ".join(x for x in ("lip-sync-like and animated frames from synth", dirs) if x)
        held = (
            "the manifest's `test` rows never read"
            if synth_fakes
            else f"{data.get('fake_test_fraction', 0):.0%} held out for benchmarks"
        )
        fakes.append(
            f"{training['train_ready_made_fakes']} ready-made fakes ({dirs}; training share, "
            f"{training.get('val_ready_made_fakes', 0)} more for validation, {held})"
        )
    # training.method since the method plugins; training.strategy in older checkpoints
    method = (training.get("method") or training.get("strategy") or {}).get("name", "plain")
    start = "ImageNet start" if model.get("pretrained") else "from scratch"
    if model.get("init_from"):
        start = f"warm start from `{model['init_from']}`"
    head = (
        f"- `{name}` (`{model.get('architecture', cfg.get('architecture'))}`, input {model.get('input_size')} px, "
        f"{start}, method `{method}`): "
        f"{training['train_faces']} real faces ({real_sources(data)}); fakes: {'; '.join(fakes)}. "
        f"Validation: {training['val_faces']} other real faces and their fakes "
        f"({training.get('selection', '')}). "
    )
    if method == "linear-probe":  # frozen backbone: no epochs, a penalty chosen on validation
        m = training["method"]
        return [
            head + f"Backbone frozen (ImageNet); logistic regression on pooled features of {m['copies']} "
            f"photo-pipeline copies of every training face, C={m['chosen_C']:g}; "
            f"{training['seconds'] / 60:.1f} min on 2 CPU cores."
        ]
    return [
        head + f"AdamW lr {tr.get('lr')}, "
        f"{tr.get('pairs_per_batch')} reals per batch, best epoch {training['best_epoch']}, "
        f"{training['seconds'] / 60:.1f} min to it on 2 CPU cores; {data.get('augment', 'camera')} augmentation.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", type=Path)
    ap.add_argument("--accuracy", type=Path, default=Path("runs/bench-accuracy/summary.json"))
    ap.add_argument("--speed", type=Path, default=Path("runs/bench-speed/summary.json"))
    ap.add_argument("--cross", type=Path, default=Path("runs/bench-cross/summary.json"))
    ap.add_argument("--zoo-speed", type=Path, default=Path("runs/bench-zoo-speed/summary.json"))
    ap.add_argument("--video-dev", type=Path, default=Path("runs/bench-video-dev/summary.json"))
    ap.add_argument("--synthetic", type=Path, default=None, help="bench_synthetic.py's summary.json")
    ap.add_argument("--notes", type=Path, default=None, help="markdown bullets added to Limits (lab notes)")
    args = ap.parse_args()
    cfg = json.loads((args.weights / "config.json").read_text())
    size = (args.weights / "weights.safetensors").stat().st_size / 2**20
    acc, speed, cross, zoo_speed, video_dev = (
        _load(p) for p in (args.accuracy, args.speed, args.cross, args.zoo_speed, args.video_dev)
    )
    face, ens = cfg["face"], cfg.get("ensemble")
    lines = [
        f"# Model card: {cfg['name']}",
        "",
        f"{'The embedded default' if cfg['name'] == DEFAULT_MODEL else 'A shipped'} detector of fakelens: "
        "p(fake) for an aligned face crop.",
        "",
    ]
    lines += ["## Model"]
    if ens:
        offsets = ens.get("offsets") or [0.0] * len(ens["weights"])
        parts = ", ".join(
            f"`{m['name']}` (weight {w:+.3f}, offset {c:+.3f})"
            for m, w, c in zip(ens["members"], ens["weights"], offsets, strict=True)
        )
        lines.append(
            f"- An ensemble (`ensemble`, mode `{ens['mode']}`, bias {ens['bias']:+.3f}) of {parts}: one network, "
            f"{size:.1f} MiB of safetensors, one ONNX graph. Fitted on validation data: AUC {fmt(ens['val_auc'])}, "
            f"ECE {fmt(ens['val_ece'])} ({ens['val_samples']['real']} real / {ens['val_samples']['fake']} fake)."
        )
        if ens["mode"] == "max":
            lines.append(
                "- Score: sigmoid(max over members of weight x member logit + offset): a face is as fake as its "
                "most alarmed member says, on one scale of evidence (specialists, each blind to the other's fakes)."
            )
        if ens.get("video"):
            v = ens["video"]
            vparts = ", ".join(
                f"`{m['name']}` {w:+.3f} / {c:+.3f}"
                for m, w, c in zip(ens["members"], v["weights"], v["offsets"], strict=True)
            )
            lines.append(
                f"- Faces of videos and animations use a second combination (weight / offset: {vparts}; bias "
                f"{v['bias']:+.3f}), fitted on the validation faces from video files plus validation GAN/diffusion "
                f"stills animated by validation clips' motion (families: "
                f"{', '.join(f'{k} {n}' for k, n in v['families'].items())}; AUC {fmt(v['val_auc'])}): photos "
                "keep the first; heat maps of video faces explain the video combination."
            )
    else:
        lines.append(f"- Architecture: `{cfg['architecture']}`, {size:.1f} MiB of safetensors.")
    if cfg.get("calibration"):
        cal = cfg["calibration"]
        lines.append(
            f"- Calibration: temperature {cal['temperature']} "
            f"(ECE {cal['ece_before']} -> {cal['ece_after']} on validation)."
        )
    lines += [
        f"- Input: {face['detector']} detection, 5-point ArcFace-template alignment with margin "
        f"{face['crop']['margin']}, "
        f"{face['refine']} dlib refinement pass(es), crop {face['crop']['size']} px, network input "
        f"{cfg['preprocess']['input_size']} px, mean/std {cfg['preprocess']['mean']}/{cfg['preprocess']['std']}.",
        f"- Threshold: {cfg['threshold']} ({cfg.get('threshold_rule', 'fixed')}).",
        *(
            [f"- Video threshold: {cfg['video_threshold']} ({cfg.get('video_threshold_rule', 'fixed')})."]
            if "video_threshold" in cfg
            else []
        ),
        "",
        "## Data and recipe",
    ]
    nets = [(m["name"], m.get("training")) for m in cfg.get("members", [])] or [
        (cfg["name"], cfg.get("training"))
    ]
    for name, training in nets:
        lines += network_lines(name, cfg, training)
    if uses_video(cfg):
        lines.append(
            "- Video faces: `../shared/data/video-real` clips (MEAD, VoxCeleb, TED, FF++ actor originals, YouTube, "
            "webcam, phone video), frames aligned by `fakelens synth` and split by source group; MEAD, LRS and "
            "VoxCeleb are non-commercial research material, FF++ is research-only, many clips are copyrighted "
            "film, TV or celebrity footage: the weights carry these terms. `video-dev` was never trained on; a "
            "choice made after seeing its figures is listed in docs/benchmarks.md."
        )
    lines += [
        "- Real faces: `../shared/data/ffhq-real` split by group (each FFHQ photo is its own group, keyed by its "
        "file name) into train / val / dev / final (`splits.json` beside the weights); the dev and final shares, "
        "and those of the StyleGAN2 faces, are read only by benchmarks. Research use only: FFHQ images "
        "under their Flickr licences (collection CC BY-NC-SA 4.0), StyleGAN2 faces from "
        "thispersondoesnotexist.com; "
        "dlib's 68-point model (alignment, SBI masks) was trained on iBUG 300-W (non-commercial terms).",
        f"- Rebuild: `make {REBUILD.get(cfg['name'], 'train-default')}` (every network by its recipe, the "
        "ensemble, shipping; then the benchmarks and `scripts/model_card.py` for this card).",
        *trained_before_lines(cfg),
        "",
        "## Figures",
    ]
    if cross:
        lines += [
            "Measured by `python benchmarks/bench_cross_manipulation.py` (held-out FFHQ identities, "
            f"`{cross.get('split', 'dev')}` split):",
            "",
        ]
        lines += cross_table(cross) + [""]
    if video_dev:
        lines += video_dev_table(video_dev) + [""]
    synthetic = _load(args.synthetic) if args.synthetic else None
    if synthetic:
        lines += synthetic_table(synthetic) + [""]
    if acc:
        lines += [
            "Measured by `python benchmarks/bench_accuracy.py` (same face pipeline as `fakelens scan`; "
            f"`{acc.get('split', 'dev')}` split):",
            "",
        ]
        lines += [accuracy_table(acc), ""]
    if zoo_speed:
        lines += [
            "Measured by `python benchmarks/bench_zoo_speed.py` (side by side, ONNX Runtime, 2 threads):",
            "",
        ]
        lines += ["| model | faces/s | ratio | scan demo/ s | ratio |", "|---|---|---|---|---|"]
        for r in zoo_speed["rows"]:
            lines.append(
                f"| {r['model']} | {r['faces_per_s']:.1f} | {r['faces_per_s_ratio']:.2f}x | {r['scan_demo_s']:.2f} "
                f"| {r['scan_time_ratio']:.2f}x |"
            )
        lines.append("")
    if speed:
        lines += [
            f"`python benchmarks/bench_speed.py`: {speed['photos_per_s']['fakelens']:.1f} photos/s "
            f"({speed['speedup_photo']:.1f}x a DeepfakeBench-style dlib + EfficientNet-B4 baseline), "
            f"{speed['s_per_10s_1080p']['fakelens']:.2f} s per 10 s 1080p clip ({speed['speedup_video']:.1f}x).",
            "",
        ]
    lines += [
        "Held-out splits: `dev` (benchmarks report on it; recipe choices may have looked at it) and `final` "
        "(read only for a final report), both from the model's `splits.json`. They are the two halves of what "
        "was one `test` split until 2026-12, on which the NPR hard-negative recipe and this default were chosen: "
        "figures of models chosen before then are not pristine on `final` either.",
        "",
        "## Limits",
    ]
    if cross:
        dfdc = next((r for r in cross["rows"] if r["test"] == "dfdc" and r["level"] == "video_level"), None)
        if dfdc and dfdc["auc"] is not None and dfdc["auc"] < 0.9:
            lines.append(
                f"- DFDC samples, video level: AUC {dfdc['auc']:.2f} (1 real vs 4 fake videos), below the project's "
                "0.90: do not rely on its verdicts for real face swaps in video yet."
            )
        if "stylegan2" in cross.get("seen_sets", []):
            lines.append(
                "- StyleGAN2 is a *seen generator* (other images of it were trained on); other GANs and diffusion "
                "models were not tested."
            )
    if video_dev and video_dev["models"]:
        figs = next(iter(video_dev["models"].values()))["figures"]
        missed = [m for m, r in figs["per_method"].items() if (r["vs_all_reals"] or 0) < 0.8]
        if missed:
            lines.append(
                f"- video-dev methods still below 0.80 video AUC against all dev reals: {', '.join(missed)}."
            )
    lines += [
        "- Calibration and threshold hold on the validation data above, not necessarily elsewhere; expect lower "
        "accuracy on very dark or tiny faces"
        + (
            "." if uses_video(cfg) else " and heavily compressed video (its real faces are FFHQ photos only)."
        ),
        "- A heat map explains the model, not the forgery.",
    ]
    if args.notes:  # what the training record cannot know (a choice made after seeing dev figures, a leak)
        lines += [ln for ln in args.notes.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    (args.weights / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.weights / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
