"""Incremental detection (issue 14 item 4): three forgery tasks in sequence (blend/swap -> lip-sync
-> GAN/diffusion faces, configs/incremental/), trained two ways from one task-1 model, side by side:

- *naive*: ``fakelens train TASK --continue-from PREVIOUS`` with method plain (fine-tuning);
- *incremental*: the same with method incremental (a head per task, SUR replay of the previous
  tasks' exemplars, feature and logit distillation against the previous model).

After every task each model is tested on every task's held-out ``dev`` share (frame-level AUC of the
task's fakes vs its reals; the blend task: one fixed self-blend of each dev real). Prints the
accuracy matrix (task trained up to x task tested) of both, the average forgetting (for each earlier
task, its best AUC before the last task minus its AUC after it) and the last task's AUC; writes
summary.json and matrix.png. Training is shortened (``--limit`` faces, ``--epochs``) to fit 2 cores.
Usage: python benchmarks/bench_incremental.py [--limit 400] [--epochs 2] [--out runs/bench-incremental]
       [--first TASK1_MODEL] [--ways incremental] [--option fd_weight=1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from fakelens.data.facecache import build_faceset
from fakelens.data.sbi_dataset import SBIPairs
from fakelens.faces.pipeline import FaceConfig
from fakelens.metrics import binary_metrics
from fakelens.models.checkpoint import build_model, read_config
from fakelens.preprocess import Preprocess
from fakelens.train.config import TrainConfig
from fakelens.train.data import data_splits
from fakelens.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
TASKS = [
    (name, ROOT / "configs" / "incremental" / f"{name}.yaml") for name in ("blend", "lipsync", "generated")
]
WAYS = ("naive", "incremental")


def test_images(cfg: TrainConfig, limit: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A task's held-out reals and fakes (the dev share of its recipe's split), as aligned crops."""
    face = FaceConfig.from_dict(cfg.face)
    reals, fakes, aligned = data_splits(cfg.data, face.fingerprint(), held_out=True)
    real_faces = build_faceset(reals["dev"][:limit], face, cfg.data.cache_dir, aligned=aligned)
    if cfg.data.sbi:
        pre = Preprocess(cfg.model.input_size)
        pairs = SBIPairs(real_faces, pre, seed=7, augment=False)
        fake_crops = [pairs.fixed_fake(i, 0).fake for i in range(len(real_faces))]
    else:
        fake_crops = list(
            build_faceset(fakes["dev"][:limit], face, cfg.data.cache_dir, aligned=aligned).crops
        )
    return list(real_faces.crops), fake_crops


@torch.inference_mode()
def row_of(folder: Path, tests: dict) -> list[float]:
    """One model (loaded once) on every task's held-out reals and fakes: AUC per task."""
    cfg = read_config(folder)
    net = build_model(cfg, folder)
    pre = Preprocess(**cfg["preprocess"])
    row = []
    for name, _ in TASKS:
        reals, fakes = tests[name]
        images = reals + fakes
        scores = np.concatenate(
            [
                torch.sigmoid(net(pre.to_tensor(images[i : i + 64]))).float().numpy()
                for i in range(0, len(images), 64)
            ]
        )
        labels = np.r_[np.zeros(len(reals)), np.ones(len(fakes))].astype(int)
        row.append(float(binary_metrics(labels, scores, threshold=0.5)["auc"]))
    return row


def forgetting(matrix: list[list[float]]) -> float:
    """Mean over the earlier tasks of (best AUC before the last task) - (AUC after it)."""
    last = len(matrix) - 1
    drops = [max(matrix[k][j] for k in range(j, last)) - matrix[last][j] for j in range(last)]
    return float(np.mean(drops))


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = summary["tasks"]
    ways = [w for w in WAYS if w in summary]
    fig, axes = plt.subplots(1, len(ways), figsize=(4.2 * len(ways), 3.8), squeeze=False)
    for ax, way in zip(axes[0], ways, strict=True):
        m = np.array(summary[way]["matrix"])
        ax.imshow(m, vmin=0.5, vmax=1.0, cmap="viridis")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.8 else "k")
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks(range(len(names)), [f"after {n}" for n in names])
        ax.set_title(f"{way}: forgetting {summary[way]['forgetting']:.3f}")
        ax.set_xlabel("tested on (dev share, frame-level AUC)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=400, help="training faces per task")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per task")
    ap.add_argument("--test-limit", type=int, default=300, help="held-out reals (and fakes) per task")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-incremental")
    ap.add_argument("--first", type=Path, help="a task-1 model already trained by this benchmark (reused)")
    ap.add_argument("--ways", default=",".join(WAYS), help="naive, incremental or both")
    ap.add_argument("--option", action="append", default=[], help="method incremental's option: fd_weight=1")
    args = ap.parse_args()
    args.out = args.out.resolve()  # continued runs name their model by this path
    ways = args.ways.split(",")
    options = {k: yaml.safe_load(v) for k, _, v in (o.partition("=") for o in args.option)}
    args.out.mkdir(parents=True, exist_ok=True)
    short = {"data.limit": args.limit, "train.epochs": args.epochs}
    tests = {}
    for name, recipe in TASKS:
        tests[name] = test_images(TrainConfig.from_yaml(recipe), args.test_limit)
        print(f"{name}: {len(tests[name][0])} held-out reals, {len(tests[name][1])} fakes", flush=True)
    started = time.time()
    first = (
        args.first.resolve()
        if args.first
        else train(TrainConfig.from_yaml(TASKS[0][1], {**short, "out_dir": str(args.out / "blend")}))
    )
    row0 = row_of(first, tests)
    summary: dict = {
        "tasks": [n for n, _ in TASKS],
        "limit": args.limit,
        "epochs": args.epochs,
        "options": options,
    }
    for way in ways:
        previous, matrix = first, [row0]
        for name, recipe in TASKS[1:]:
            overrides = {**short, "out_dir": str(args.out / way / name), "model.continue_from": str(previous)}
            if way == "naive":
                overrides["method"] = {"name": "plain"}
            else:
                overrides.update({f"method.{k}": v for k, v in options.items()})
            previous = train(TrainConfig.from_yaml(recipe, overrides))
            matrix.append(row_of(previous, tests))
        summary[way] = {"matrix": matrix, "forgetting": forgetting(matrix), "last_task_auc": matrix[-1][-1]}
    summary["seconds"] = round(time.time() - started, 1)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(summary, args.out / "matrix.png")
    width = max(len(n) for n in summary["tasks"]) + 8
    print("\nframe-level AUC on each task's dev share (rows: after training on that task)")
    print(f"{'':{width}}" + "".join(f"{w + ':' + n:>22}" for w in ways for n in summary["tasks"]))
    for k, name in enumerate(summary["tasks"]):
        cells = "".join(f"{summary[w]['matrix'][k][j]:>22.3f}" for w in ways for j in range(len(TASKS)))
        print(f"{'after ' + name:{width}}{cells}")
    for way in ways:
        s = summary[way]
        print(f"{way}: average forgetting {s['forgetting']:.3f}, last task AUC {s['last_task_auc']:.3f}")
    if set(WAYS) <= set(ways):
        naive, incremental = summary["naive"]["forgetting"], summary["incremental"]["forgetting"]
        ratio = (
            f"{incremental / naive:.2f}" if naive > 0.005 else "n/a (naive fine-tuning forgot < 0.005 AUC)"
        )
        print(f"forgetting incremental / naive: {ratio} (target <= 0.33)")
    print(f"{summary['seconds']:.0f} s; wrote {args.out / 'summary.json'} and {args.out / 'matrix.png'}")


if __name__ == "__main__":
    main()
