"""Load test of ``fakelens serve`` on loopback: N concurrent clients post a photo for a bounded time.

Starts the server as a subprocess (the real CLI) on a free 127.0.0.1 port, waits for /healthz, warms
it up, then runs ``--clients`` threads, each posting demo/astronaut.png to /v1/scan in a loop until
``--seconds`` have passed. Reports requests/s, p50/p99 latency, errors and the server's RSS at the
start, middle and end (memory should stay flat), as a table and in runs/bench-serve/summary.json.
Usage: python benchmarks/bench_serve.py [--clients 32] [--seconds 30] [--backend auto|torch|onnx]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "demo" / "astronaut.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server(port: int, backend: str, max_queue: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fakelens.cli", "serve", "--port", str(port), "--backend", backend]
    cmd += ["--max-queue", str(max_queue)]  # room for every client: a 429 would count as an error
    # the clients are simulated on one loopback address: each is its own client here
    cmd += ["--max-uploads-per-client", str(max_queue)]
    # uvicorn's access log (stdout) is discarded; stderr goes to a file, read if the server dies
    # (a pipe nobody drains would fill up and block the server mid-benchmark)
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy within 120 s")


def client_loop(url: str, data: bytes, stop_at: float, latencies: list, errors: Counter) -> None:
    with httpx.Client(timeout=120) as c:
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                r = c.post(url, files={"file": (PHOTO.name, data, "image/png")})
                ok = r.status_code == 200 and r.json()["file"]["verdict"] != "error"
                key = None if ok else f"HTTP {r.status_code}"
            except httpx.HTTPError as err:
                key = type(err).__name__
            if key is None:
                latencies.append(time.perf_counter() - t0)
            else:
                errors[key] += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--backend", default="auto", help="torch, onnx or auto (the server default)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-serve")
    args = ap.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/scan"
    data = PHOTO.read_bytes()
    proc = start_server(port, args.backend, max(32, args.clients))
    try:
        for _ in range(3):  # warm-up: first calls allocate buffers and compile kernels
            httpx.post(url, files={"file": (PHOTO.name, data)}, timeout=120).raise_for_status()
        latencies: list[float] = []
        errors: Counter = Counter()
        rss = {"start": rss_mb(proc.pid)}
        t0 = time.monotonic()
        stop_at = t0 + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(url, data, stop_at, latencies, errors))
            for _ in range(args.clients)
        ]
        for t in threads:
            t.start()
        time.sleep(args.seconds / 2)
        rss["middle"] = rss_mb(proc.pid)
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        rss["end"] = rss_mb(proc.pid)
        healthz = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        health = healthz["status"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = np.array(latencies) * 1000
    summary = {
        "command": "python benchmarks/bench_serve.py " + " ".join(sys.argv[1:]),
        "clients": args.clients,
        "seconds": round(wall, 2),
        "backend": healthz.get("backend", args.backend),  # what the server chose ("auto" resolved)
        "cpu_cores": os.cpu_count(),
        "requests_ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "requests_per_s": round(len(latencies) / wall, 2),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
            "p99": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
            "max": round(float(lat.max()), 1) if len(lat) else None,
        },
        "rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "rss_growth_mb": round(rss["end"] - rss["start"], 1),
        "healthy_after": health == "ok",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = f"fakelens serve ({summary['backend']}): {args.clients} clients x {wall:.0f} s, {PHOTO.name}, loopback"
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("requests/s", f"{summary['requests_per_s']:.2f}"),
        ("requests ok / errors", f"{summary['requests_ok']} / {summary['errors']}"),
        ("latency p50 / p99 (ms)", f"{summary['latency_ms']['p50']} / {summary['latency_ms']['p99']}"),
        ("RSS start / middle / end (MB)", " / ".join(f"{v:.0f}" for v in rss.values())),
        ("healthy afterwards", str(summary["healthy_after"])),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print(f"summary: {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()
