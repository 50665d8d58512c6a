"""PyTorch vs ONNX Runtime for the shipped default model, side by side in one process, same threads.

Faces/s of ``Detector.predict_proba`` (preprocessing included, as the scanner calls it) at each batch
size, measured in interleaved rounds (torch, onnx, torch, onnx ...) so a busy machine hurts both
alike; the median round is reported. Also: max abs difference of logits and probabilities on one
fixed batch, and the wall time of a full ``scan`` of demo/ with each backend.
Usage: python benchmarks/bench_onnx.py [--batches 1 32] [--rounds 7] [--seconds 1.5]
Writes runs/bench-onnx/summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fakelens.models.detector import load_detector
from fakelens.models.onnx_backend import cpu_threads, export_onnx, open_session
from fakelens.scan.api import scan_paths

ROOT = Path(__file__).resolve().parents[1]


def faces_per_s(det, crops: list[np.ndarray], seconds: float) -> float:
    """Calls of predict_proba on one batch for about ``seconds``; faces scored per second."""
    det.predict_proba(crops)  # warm-up
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds or n < 2:
        det.predict_proba(crops)
        n += 1
    return n * len(crops) / elapsed


def cold_load_s(model: str | None, backend: str) -> float:
    """Seconds from a fresh interpreter to a loaded detector (imports included), as the CLI sees it."""
    code = (
        "import time; t = time.perf_counter(); from fakelens.models.detector import load_detector; "
        f"load_detector({model!r}, backend={backend!r}); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", default=None, help="checkpoint folder or shipped name (default: the shipped one)"
    )
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.5, help="per round, per backend")
    ap.add_argument("--scan-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=cpu_threads())
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-onnx")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    onnx_path = export_onnx(args.model, args.out / "onnx")
    export_s = time.perf_counter() - t
    load_s = {
        "torch": cold_load_s(str(args.model) if args.model else None, "torch"),
        "onnx": cold_load_s(str(onnx_path), "onnx"),
    }
    dets = {
        "torch": load_detector(args.model, backend="torch"),
        "onnx": load_detector(onnx_path, backend="onnx"),
    }
    dets["onnx"].session = open_session(onnx_path, threads=args.threads)
    default_batch = {name: det.batch_size for name, det in dets.items()}  # what scan uses
    size = dets["torch"].preprocess.input_size
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(max(args.batches))]

    # agreement on one fixed batch
    x = dets["torch"].preprocess.to_tensor(pool)
    with torch.inference_mode():
        t_logit = dets["torch"].model(x).float().numpy()
    o_logit, o_prob = dets["onnx"].run(x.contiguous().numpy())
    diff_logit = float(np.abs(o_logit - t_logit).max())
    diff_prob = float(np.abs(o_prob - 1 / (1 + np.exp(-t_logit.astype(np.float64)))).max())

    throughput = {}
    for b in args.batches:
        crops = pool[:b]
        runs = {name: [] for name in dets}
        for det in dets.values():
            det.batch_size = b
        for _ in range(args.rounds):
            for name, det in dets.items():
                runs[name].append(faces_per_s(det, crops, args.seconds))
        throughput[b] = {name: statistics.median(v) for name, v in runs.items()}
        throughput[b]["best"] = {name: max(v) for name, v in runs.items()}  # least disturbed round
        throughput[b]["rounds"] = runs
        throughput[b]["ratio_onnx_over_torch"] = throughput[b]["onnx"] / throughput[b]["torch"]

    # a full scan of demo/ (decode, faces, alignment, scores; default batch sizes), interleaved
    for name, det in dets.items():
        det.batch_size = default_batch[name]
    scans = {name: [] for name in dets}
    verdicts = {}
    for _ in range(args.scan_repeats):
        for name, det in dets.items():
            t = time.perf_counter()
            records = scan_paths([ROOT / "demo"], None, model=det, progress=False)
            scans[name].append(time.perf_counter() - t)
            verdicts[name] = {Path(r.file).name: (r.verdict, r.score) for r in records}
    scan_s = {name: statistics.median(v) for name, v in scans.items()}
    same = all(verdicts["torch"][f][0] == verdicts["onnx"][f][0] for f in verdicts["torch"])
    score_diff = max(
        abs((verdicts["torch"][f][1] or 0) - (verdicts["onnx"][f][1] or 0)) for f in verdicts["torch"]
    )

    import onnxruntime

    summary = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "model": dets["torch"].name,
        "input_size": size,
        "threads": args.threads,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "cpu": platform.processor() or platform.machine(),
        "export_s": export_s,
        "cold_load_s": load_s,
        "max_abs_diff": {"logit": diff_logit, "prob": diff_prob},
        "faces_per_s": {str(b): v for b, v in throughput.items()},
        "scan_demo_s": scan_s,
        "scan_batch_size": default_batch,
        "scan_demo_runs_s": scans,
        "scan_demo_files": len(verdicts["torch"]),
        "scan_same_verdicts": same,
        "scan_max_score_diff": score_diff,
        "load_average_before_after": [load_before, os.getloadavg()[0]],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    versions = f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
    print(f"{summary['model']} @ {size} px, {args.threads} threads, {versions}")
    print(
        f"{'(median of rounds)':22} {'torch':>9} {'onnxruntime':>12} {'ratio':>7}   best rounds: torch / ort"
    )
    for b, v in throughput.items():
        best = f"{v['best']['torch']:.1f} / {v['best']['onnx']:.1f}"
        print(
            f"{f'faces/s, batch {b}':22} {v['torch']:9.1f} {v['onnx']:12.1f} "
            f"{v['ratio_onnx_over_torch']:6.2f}x   {best}"
        )
    print(
        f"{'scan demo/ (s)':22} {scan_s['torch']:9.2f} {scan_s['onnx']:12.2f} "
        f"{scan_s['torch'] / scan_s['onnx']:6.2f}x"
    )
    print(f"{'cold model load (s)':22} {load_s['torch']:9.2f} {load_s['onnx']:12.2f}")
    print(
        f"export {export_s:.1f} s; max abs diff logit {diff_logit:.1e}, prob {diff_prob:.1e}; "
        f"scan verdicts identical: {same} (max score diff {score_diff:.1e})"
    )
    print(
        f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} (other processes share the cores)"
    )
    print(f"written: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
