"""Copy a trained checkpoint into the package as a shipped model (weights + config.json).

Usage: python scripts/ship_model.py RUN/model src/fakelens/weights/NAME [--threshold T] [--half]
The model card (MODEL_CARD.md) beside it is written by hand from benchmarks/ output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fakelens.models.checkpoint import load_weights, read_config, save_checkpoint
from fakelens.models.registry import create_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--threshold", type=float, default=None, help="fake threshold (default: keep)")
    ap.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    args = ap.parse_args()
    cfg = read_config(args.src)
    model = create_model(cfg["architecture"], pretrained=False, **cfg.get("model_kwargs", {}))
    load_weights(args.src, model)
    cfg["name"] = args.dst.name
    if args.threshold is not None:
        cfg["threshold"] = args.threshold
    save_checkpoint(args.dst, model, cfg, half=args.half)
    size = (args.dst / "weights.safetensors").stat().st_size / 2**20
    print(
        f"shipped {args.dst} ({size:.1f} MiB); config: {json.dumps({k: cfg[k] for k in ('name', 'threshold')})}"
    )


if __name__ == "__main__":
    main()
