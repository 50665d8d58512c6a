"""The model card's benchmark tables (scripts/model_card.py), one function per benchmark summary."""

from __future__ import annotations


def fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def cross_table(cross: dict) -> list[str]:
    seen = set(cross.get("seen_sets", []))
    rows = [
        "| test set | level | real | fake | AUC | AP | EER | reals flagged | fakes caught |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cross["rows"]:
        tag = " (seen in training)" if r["test"] in seen else ""
        rows.append(
            f"| {r['test']}{tag} | {r['level'].replace('_level', '')} | {r['n_real']} | {r['n_fake']} "
            f"| {fmt(r['auc'])} | {fmt(r['ap'])} | {fmt(r['eer'])} | {fmt(r.get('fpr'))} | {fmt(r.get('tpr'))} |"
        )
    rows += [
        "",
        f"Cross-manipulation AUC (mean frame AUC over faceswap, freda, stylegan2, dfdc): "
        f"**{fmt(cross['cross_manipulation_auc'])}**; over the sets no part of the model trained on "
        f"({', '.join(cross['unseen_sets'])}): **{fmt(cross['unseen_auc'])}**. *Reals flagged* / *fakes "
        "caught*: shares at the model's threshold.",
    ]
    return rows + robustness_table(cross.get("robustness_rows") or [])


def video_dev_table(summary: dict) -> list[str]:
    """bench_video_dev.py's video-level AUCs, every model it ran side by side (the first is this one)."""
    models = summary["models"]
    names = list(models)
    first = models[names[0]]["figures"]
    out = [
        f"Measured by `python benchmarks/bench_video_dev.py` (`../shared/data/video-dev`, scanned as `fakelens "
        f"scan` does, {summary['frames']} frames, video level; per method: vs its own dataset's reals / vs all "
        "dev reals; never trained on; any choice made after seeing it is listed in docs/benchmarks.md):",
        "",
        "| fakes (n) | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]

    def cell(n: str, method: str) -> str:
        r = models[n]["figures"]["per_method"].get(method) or {}
        return f"{fmt(r.get('vs_own_reals'))} / {fmt(r.get('vs_all_reals'))}"

    for method, r in first["per_method"].items():
        out.append(f"| {method} ({r['n_fake']}) | " + " | ".join(cell(n, method) for n in names) + " |")
    for key, label in (
        ("ffpp_c40", "FF++ c40, all four vs FF++ reals"),
        ("todays_generators", "talking heads, lip-sync, live swaps vs all reals"),
        ("all", "all fakes vs all reals"),
    ):
        out.append(
            f"| {label} | "
            + " | ".join(fmt((models[n]["figures"].get(key) or {}).get("auc")) for n in names)
            + " |"
        )
    out.append(
        "| dev reals flagged at the threshold | "
        + " | ".join(fmt(models[n]["figures"]["reals_flagged"]) for n in names)
        + " |"
    )
    return out


def synthetic_table(summary: dict) -> list[str]:
    """bench_synthetic.py: leave-one-generator-out folds, then every model's AUC and false alarms."""
    out = [
        "Measured by `python benchmarks/bench_synthetic.py` (frame level; held-out reals of the probe recipe's "
        f"`{summary['split']}` split, by person within each source):",
        "",
    ]
    folds = summary.get("leave_one_generator_out") or []
    if folds:
        out += [
            "| family left out of the probe's training (fakes) | AUC vs held-out reals | caught at 5 % FA |"
        ]
        out += ["|---|---|---|"] + [
            f"| {f['family']} ({f['n_fake']}) | {f['auc']:.3f} | {f['caught']:.2f} |" for f in folds
        ]
        out += [f"| mean | {sum(f['auc'] for f in folds) / len(folds):.3f} | |", ""]
    models = summary["models"]
    out += [
        "| held-out fakes (n) | " + " | ".join(f"`{m['model']}`" for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for fam, r in models[0]["auc"].items():
        out.append(
            f"| {fam} ({r['n']}) | "
            + " | ".join(fmt(m["auc"].get(fam, {}).get("auc")) for m in models)
            + " |"
        )
    out += [
        "",
        "False alarms at each model's threshold per real source (as given / JPEG 60 / half size):",
        "",
    ]
    out += [
        "| real source (n) | " + " | ".join(f"`{m['model']}`" for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for src, kinds in models[0]["false_alarms"].items():
        cells = [
            "/".join("-" if v[1] is None else f"{100 * v[1]:.0f}%" for v in m["false_alarms"][src].values())
            for m in models
        ]
        out.append(f"| {src} ({kinds['as given'][0]}) | " + " | ".join(cells) + " |")
    return out


def robustness_table(rows: list[dict]) -> list[str]:
    """Face-swap set under degradations: AUC, and the share of real faces flagged at the threshold."""
    frame = [r for r in rows if r["level"] == "frame_level"]
    if not frame:
        return []
    clean = next((r for r in frame if r["test"] == "clean"), None)
    names = list(dict.fromkeys(r["test"].split(":")[0] for r in frame if r["test"] != "clean"))
    levels = sorted({int(r["test"].split(":")[1]) for r in frame if r["test"] != "clean"})
    cell = lambda r: "–" if r is None else f"{fmt(r['auc'])} / {fmt(r.get('fpr'))}"  # noqa: E731
    out = [
        "",
        "Face-swap set under degradations (`--robustness`; each cell: AUC / share of real faces flagged):",
        "",
        "| perturbation | clean | " + " | ".join(f"L{lv}" for lv in levels) + " |",
        "|---|---|" + "---|" * len(levels),
    ]
    for name in names:
        by_level = {int(r["test"].split(":")[1]): r for r in frame if r["test"].startswith(name + ":")}
        out.append(
            f"| {name} | {cell(clean)} | " + " | ".join(cell(by_level.get(lv)) for lv in levels) + " |"
        )
    return out
