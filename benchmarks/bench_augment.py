"""Cost of one paired augmentation (a real and its fake, 224 px face crops) per kind, and of the
``video`` kind's H.264 step alone: training draws one per item, so this bounds data-loading time.

Usage: python benchmarks/bench_augment.py [--size 224] [--pairs 300]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace
from pathlib import Path

import cv2
import numpy as np

from fakelens.forge.augment import VideoAugment, paired_augment
from fakelens.media import load_image

ROOT = Path(__file__).resolve().parents[1]


def per_pair_ms(pair: list[np.ndarray], kind: str, video: VideoAugment | None, pairs: int) -> float:
    paired_augment(pair, np.random.default_rng(0), kind, video)  # warm-up: codec libraries loaded
    start = time.perf_counter()
    for seed in range(pairs):
        paired_augment(pair, np.random.default_rng(seed), kind, video)
    return (time.perf_counter() - start) / pairs * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--pairs", type=int, default=300)
    args = parser.parse_args()
    face = load_image(ROOT / "demo" / "astronaut.png")[0:300, 100:400]
    real = np.ascontiguousarray(cv2.resize(face, (args.size, args.size), interpolation=cv2.INTER_AREA))
    fake = real.copy()
    s = args.size
    fake[s // 3 : s * 2 // 3, s // 4 : s * 3 // 4] = cv2.GaussianBlur(
        fake[s // 3 : s * 2 // 3, s // 4 : s * 3 // 4], (0, 0), 2
    )
    p_fields = [f.name for f in fields(VideoAugment) if f.name.startswith("p_")]
    off = VideoAugment(**dict.fromkeys(p_fields, 0.0))
    rows = [
        ("camera", "camera", None),
        ("video (default probabilities)", "video", None),
        ("video, every step on", "video", VideoAugment(**dict.fromkeys(p_fields, 1.0))),
        ("video, H.264 intra only", "video", replace(off, p_h264=1)),
        ("video, H.264 P-frame only", "video", replace(off, p_h264=1, p_inter=1)),
    ]
    print(f"per pair of {args.size} px crops, {args.pairs} pairs each, one process")
    for name, kind, video in rows:
        print(f"  {name:32s} {per_pair_ms([real, fake], kind, video, args.pairs):6.1f} ms")


if __name__ == "__main__":
    main()
