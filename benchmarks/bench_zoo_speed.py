"""Speed of several detectors side by side in one run: faces/s on aligned crops and seconds to scan
``demo/`` (detection included), each as a ratio to the first model. This is what "an ensemble may
become the default if it is as fast" is measured by.

Usage: python benchmarks/bench_zoo_speed.py --model sbi-effnet-lite0-ffhq,runs/ensemble-sbi-npr/model
       [--backend auto] [--rounds 5] [--out runs/bench-zoo-speed]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from fakelens.models.detector import load_detector
from fakelens.scan.scanner import Scanner, ScanOptions

ROOT = Path(__file__).resolve().parents[1]


def faces_per_second(detector, crops: list[np.ndarray], seconds: float) -> float:
    detector.predict_proba(crops[:4])  # warm-up
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        detector.predict_proba(crops)
        done += len(crops)
    return done / (time.perf_counter() - t0)


def scan_seconds(detector, files: list[Path]) -> float:
    scanner = Scanner(detector, ScanOptions(num_frames=8))
    t0 = time.perf_counter()
    for f in files:
        scanner.scan_file(f)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="comma-separated checkpoint folders or shipped names")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds; the median is reported")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-zoo-speed")
    args = ap.parse_args()
    detectors = [load_detector(m, backend=args.backend) for m in args.model.split(",")]
    size = detectors[0].face.crop.size
    crops = [np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8) for i in range(16)]
    files = sorted(p for p in (ROOT / "demo").iterdir() if p.is_file() and not p.name.startswith("."))
    fps = {d.name: [] for d in detectors}
    scan = {d.name: [] for d in detectors}
    for _ in range(args.rounds):  # interleaved, so machine noise hits every model alike
        for d in detectors:
            fps[d.name].append(faces_per_second(d, crops, args.seconds))
            scan[d.name].append(scan_seconds(d, files))
    base = detectors[0].name
    rows = []
    for d in detectors:
        f, s = float(np.median(fps[d.name])), float(np.median(scan[d.name]))
        rows.append(
            {
                "model": d.name,
                "backend": d.backend,
                "faces_per_s": round(f, 1),
                "scan_demo_s": round(s, 3),
                "faces_per_s_ratio": round(f / np.median(fps[base]), 3),
                "scan_time_ratio": round(s / np.median(scan[base]), 3),
            }
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "rounds": args.rounds}, indent=2) + "\n")
    table = Table(title=f"speed side by side ({args.rounds} interleaved rounds, medians; ratios to {base})")
    for col in (
        "model",
        "backend",
        "faces/s (batch 16)",
        "ratio",
        f"scan demo/ ({len(files)} files) s",
        "ratio",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["model"],
            r["backend"],
            f"{r['faces_per_s']:.1f}",
            f"{r['faces_per_s_ratio']:.2f}x",
            f"{r['scan_demo_s']:.2f}",
            f"{r['scan_time_ratio']:.2f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
