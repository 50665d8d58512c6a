"""Copy a trained checkpoint into the package as a shipped model (weights + config.json).

Usage: python scripts/ship_model.py RUN/model src/fakelens/weights/NAME [--threshold T | --calibrate RUN] [--half]
The model card (MODEL_CARD.md) beside it is written by hand from benchmarks/ output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from fakelens.data.facecache import build_faceset
from fakelens.faces import FaceConfig
from fakelens.models.checkpoint import load_weights, read_config, save_checkpoint
from fakelens.models.detector import Preprocess, build_model
from fakelens.models.registry import create_model
from fakelens.train.calibrate import real_quantile_threshold
from fakelens.train.loop import THRESHOLD_RULE


def calibrate(run: Path, model, cfg: dict) -> tuple[float, str]:
    """The recipe's threshold rule, applied to the run's validation split (never its test split)."""
    val = [Path(p) for p in json.loads((run / "splits.json").read_text())["val"]]
    recipe = yaml.safe_load((run / "config.yaml").read_text())
    faces = build_faceset(val, FaceConfig.from_dict(cfg["face"]), recipe["data"].get("cache_dir"))
    threshold = real_quantile_threshold(model, faces.crops, Preprocess(**cfg["preprocess"]))
    return round(threshold, 4), THRESHOLD_RULE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--threshold", type=float, default=None, help="fake threshold (default: keep)")
    ap.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    ap.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        help="run folder: recompute the threshold on its clean validation real faces",
    )
    args = ap.parse_args()
    cfg = read_config(args.src)
    model = create_model(cfg["architecture"], pretrained=False, **cfg.get("model_kwargs", {}))
    load_weights(args.src, model)
    cfg["name"] = args.dst.name
    if args.threshold is not None:
        cfg["threshold"] = args.threshold
    elif args.calibrate is not None:  # on the scores the detector will give: with its calibration
        cfg["threshold"], cfg["threshold_rule"] = calibrate(args.calibrate, build_model(cfg, args.src), cfg)
    save_checkpoint(args.dst, model, cfg, half=args.half)
    size = (args.dst / "weights.safetensors").stat().st_size / 2**20
    print(
        f"shipped {args.dst} ({size:.1f} MiB); config: {json.dumps({k: cfg[k] for k in ('name', 'threshold')})}"
    )


if __name__ == "__main__":
    main()
