"""Run a protocol: for each fold, optionally train (selection on the fold's training-domain
validation rows only), then evaluate on every test set and gather one table.

Output folder: ``protocol.yaml`` (resolved), ``folds.json`` (manifests, counts, warnings), per fold
``<fold>/train.jsonl``, ``val.jsonl``, ``tests/*.jsonl``, ``<fold>/eval/<test>/`` (each a full
``fakelens evaluate`` folder), and at the top ``results.json``, ``results.csv``, ``results.md``,
``results.png``. Results are written after each test set, so an interrupted run keeps what it did.
"""

from __future__ import annotations

import json
from pathlib import Path

from fakelens.errors import FakelensError
from fakelens.evaluate.protocols import ProtocolConfig, materialize, safe_name
from fakelens.evaluate.results import COLUMNS, markdown_by_level, plot_comparison, write_csv


def _train_fold(recipe: Path, plan: dict, overrides: dict | None) -> Path:
    from fakelens.train.config import TrainConfig
    from fakelens.train.loop import train

    fold_overrides = {
        **(overrides or {}),
        "data.real_dirs": [],
        "data.fake_dirs": [],  # the fold's manifest is the whole training data, fakes included
        "data.manifest": str(Path(plan["train"]).resolve()),
        "data.val_manifest": str(Path(plan["val"]).resolve()),
        "out_dir": str((Path(plan["folder"]) / "train").resolve()),
    }
    cfg = TrainConfig.from_yaml(recipe, fold_overrides)
    return train(cfg)


def run_protocol(
    config: ProtocolConfig | str | Path,
    out: str | Path,
    *,
    model=None,
    train_recipe: str | Path | None = None,
    train_overrides: dict | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate ``model`` (or a model trained per fold from ``train_recipe``) under a protocol."""
    from fakelens.evaluate.run import evaluate_manifest
    from fakelens.models.loading import load_detector
    from fakelens.models.scorer import Scorer

    cfg = config if isinstance(config, ProtocolConfig) else ProtocolConfig.from_yaml(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.yaml").write_text(cfg.to_yaml())
    plans = materialize(cfg, out)
    (out / "folds.json").write_text(json.dumps(plans, indent=2) + "\n")
    if train_recipe:
        _check_trainable(plans)

    shared = None if train_recipe else (model if isinstance(model, Scorer) else load_detector(model))
    rows: list[dict] = []
    summary = {"protocol": cfg.name, "kind": cfg.kind, "folds": plans, "rows": rows, "models": {}}
    for plan in plans:
        if train_recipe:
            detector = load_detector(_train_fold(Path(train_recipe), plan, train_overrides))
        else:
            detector = shared
        summary["models"][plan["fold"]] = detector.name
        for test, info in plan["tests"].items():
            where = Path(plan["folder"]) / "eval" / safe_name(test)
            result = evaluate_manifest(
                info["manifest"], where, model=detector, num_frames=cfg.num_frames, progress=progress
            )
            for level in ("frame_level", "video_level"):
                m = result["metrics"].get(level)
                if m:
                    rows.append(
                        {
                            "fold": plan["fold"],
                            "test": test,
                            "level": level,
                            "subset": "all",
                            **{
                                k: m.get(k)
                                for k in ("n", "n_real", "n_fake", "auc", "ap", "eer", "acc", "fpr", "tpr")
                            },
                        }
                    )
            _write_summary(summary, out)
    return summary


def _check_trainable(plans: list[dict]) -> None:
    """Training needs real faces in the fold's train rows and in its (training-domain) val rows:
    without val there is nothing honest to select a checkpoint with, so fail before training."""
    for plan in plans:
        for part, purpose in (("train", "train on"), ("val", "select the checkpoint with")):
            if plan["counts"][part]["real"] == 0:
                raise FakelensError(
                    f"fold '{plan['fold']}' has no real '{part}' rows to {purpose} "
                    f"(its training datasets need a '{part}' split)",
                    plan[part],
                )


def _write_summary(summary: dict, out: Path) -> None:
    rows = summary["rows"]
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    columns = ["fold", *COLUMNS[1:]]
    write_csv(rows, out / "results.csv", columns)
    md_cols = ["fold", "test", "n_real", "n_fake", "auc", "ap", "eer", "acc"]
    (out / "results.md").write_text(markdown_by_level(rows, md_cols, f"protocol {summary['protocol']}"))
    if rows:
        name = "AUC"
        bars = [
            {"test": f"{r['fold']}: {r['test']}", "level": r["level"], "subset": "all", name: r["auc"]}
            for r in rows
        ]
        plot_comparison([name], bars, "auc", out / "results.png")
