"""Files per second: the local scanner against ``scan --engine ray`` with 1 and 2 workers, one run.

The corpus: ``--files`` 512 px one-face JPEG photos (re-framed copies of the demo portrait: every
file is decoded, detected, aligned and scored; CPU-bound). The local engine is one process whose
ONNX Runtime and OpenCV use every core; a Ray worker is pinned to ``--threads`` cores and holds its
own model. Ray's start-up (``ray.init``, the workers loading their models) is timed apart from the
scan, since a corpus run pays it once. Prints files/s, the 2-vs-1-worker ratio and a paper
estimate for N GPU workers (per-file CPU work measured here; each worker's model step divided by a
stated GPU speed-up; a worker scans one file at a time). Records of the Ray runs are checked against the local run's.

Usage: python benchmarks/bench_ray_scan.py [--files 200] [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fakelens.media import load_image
from fakelens.models.loading import load_detector
from fakelens.scan import scan_paths
from fakelens.scan.corpus import scan_corpus

ROOT = Path(__file__).resolve().parents[1]


def make_corpus(root: Path, n: int) -> Path:
    img = load_image(ROOT / "demo" / "astronaut.png")
    rng = np.random.default_rng(0)
    for i in range(n):
        x0, y0 = (int(v) for v in rng.integers(0, 40, 2))
        crop = img[y0 : y0 + 472, x0 : x0 + 472]
        cv2.imwrite(
            str(root / f"p{i:04d}.jpg"),
            cv2.resize(crop, (512, 512))[..., ::-1],
            [cv2.IMWRITE_JPEG_QUALITY, 90],
        )
    return root


def _records(lines) -> dict:
    return {r["file"]: {k: v for k, v in r.items() if k != "seconds"} for r in lines if r["type"] == "file"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=1, help="cores per Ray worker")
    ap.add_argument(
        "--gpu-speedup", type=float, default=20.0, help="model step on a GPU vs one core (estimate)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-ray-scan")
    args = ap.parse_args()
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="fakelens-ray-"))
    (tmp / "corpus").mkdir()
    corpus = make_corpus(tmp / "corpus", args.files)
    report: dict = {"files": args.files, "model": args.model or "default"}

    detector = load_detector(args.model)
    scan_paths([corpus], tmp / "warm.jsonl", model=detector, progress=False)  # export and caches warm
    t0 = time.perf_counter()
    scan_paths([corpus], tmp / "local.jsonl", model=detector, progress=False)
    local_s = time.perf_counter() - t0
    local = _records(json.loads(line) for line in (tmp / "local.jsonl").read_text().splitlines())
    report["local"] = {"seconds": round(local_s, 2), "files_per_s": round(args.files / local_s, 2)}

    for workers in (1, 2):
        t0 = time.perf_counter()
        ray.init(
            num_cpus=workers * args.threads,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        init_s = time.perf_counter() - t0
        summary = scan_corpus(
            [corpus],
            tmp / f"ray-{workers}",
            model=args.model,
            workers=workers,
            threads_per_worker=args.threads,
            progress=False,
        )
        ray.shutdown()
        lines = [json.loads(x) for s in summary.shards for x in Path(s).read_text().splitlines()]
        report[f"ray_{workers}"] = {
            "ray_init_seconds": round(init_s, 2),
            "seconds": summary.seconds,
            "first_result_seconds": summary.first_result_seconds,
            "files_per_s": round(args.files / summary.seconds, 2),
            "steady_files_per_s": round(summary.steady_files_per_s, 2),
            "records_match_local": _records(lines) == local,
        }
    one, two = report["ray_1"], report["ray_2"]
    report["ratio_2_vs_1_workers"] = round(two["steady_files_per_s"] / one["steady_files_per_s"], 2)
    report["ratio_2_vs_1_workers_with_start_up"] = round(two["files_per_s"] / one["files_per_s"], 2)
    report["ratio_ray2_vs_local"] = round(two["files_per_s"] / report["local"]["files_per_s"], 2)
    # paper estimate: a file's CPU work (decode, detect, align) on one core, then its model step
    # on the GPU; measured here: one worker's seconds per file on one core, the model's share of it
    per_file = 1.0 / one["steady_files_per_s"]
    model_s = _model_seconds(args.model)
    cpu_s = max(per_file - model_s, 1e-3)
    rate = 1.0 / (cpu_s + model_s / args.gpu_speedup)  # a worker scans one file at a time
    est = {n: round(n * rate, 1) for n in (1, 8, 64)}
    report["estimate"] = {
        "seconds_per_file_one_core": round(per_file, 4),
        "model_seconds_per_face_one_core": round(model_s, 4),
        "assumption": f"a worker scans one file at a time: decoding, detection and alignment as measured here "
        f"on one core, the model step {args.gpu_speedup:g}x faster on its GPU; linear scaling across workers "
        "(storage and the driver keep up)",
        "files_per_s_for_1_8_64_gpu_workers": est,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.files} files of 512 px, one face each, model {report['model']}")
    print(f"local engine (all cores):      {report['local']['files_per_s']:6.2f} files/s")
    for w in (1, 2):
        r = report[f"ray_{w}"]
        print(
            f"ray, {w} worker(s) x {args.threads} core(s): {r['files_per_s']:6.2f} files/s, "
            f"{r['steady_files_per_s']:6.2f} after the first result ({r['first_result_seconds']:.1f} s start-up; "
            f"ray.init {r['ray_init_seconds']:.1f} s apart); records identical to local: {r['records_match_local']}"
        )
    print(
        f"2 vs 1 workers: {report['ratio_2_vs_1_workers']:.2f}x after start-up "
        f"({report['ratio_2_vs_1_workers_with_start_up']:.2f}x with it); ray (2) vs local: "
        f"{report['ratio_ray2_vs_local']:.2f}x"
    )
    print(f"paper estimate, files/s for 1 / 8 / 64 GPU workers: {est[1]} / {est[8]} / {est[64]}")
    print(f"  ({report['estimate']['assumption']})")


def _model_seconds(model) -> float:
    """Seconds of one face through the model alone, one core (batch 1)."""
    import os

    os.environ["FAKELENS_THREADS"] = "1"
    detector = load_detector(model)
    crop = np.zeros((224, 224, 3), np.uint8)
    detector.predict_proba([crop])
    t0 = time.perf_counter()
    for _ in range(20):
        detector.predict_proba([crop])
    return (time.perf_counter() - t0) / 20


if __name__ == "__main__":
    main()
