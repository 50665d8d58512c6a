"""Peak memory and outcome of ``fakelens scan`` on odd and hostile inputs (issue 15).

Builds a corpus of the inputs the adversarial run found trouble with (a symlink loop, a FIFO, a
crowd of faces, a video whose frames grow past the pixel limit mid-stream, animations and TIFF pages,
a two-stream MKV, an MP4 named .jpg, .jfif/.ts/hidden/text files, a name that is not UTF-8, a JPEG
header claiming 8000x7999 over 68 KB, a 4000x3000 photo with a small face, a pixel-bomb PNG), then
scans each one alone in a fresh ``fakelens scan`` process and reads that process's peak RSS from
``wait4``; finally scans the whole folder once and checks one record per scanned file.

Target: every single input peaks under 2 GB and ends as a record (or a counted skip).
Usage: python benchmarks/bench_hostile.py [--out runs/bench-hostile] [--model NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' media writers make the same odd files
from media_helpers import write_growing_ts, write_two_streams  # noqa: E402

DEMO = ROOT / "demo"
FAKELENS = [sys.executable, "-m", "fakelens.cli"]
TARGET_MB = 2048


def _png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width`` x ``height`` zeros, a few hundred KB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    data = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def build_corpus(folder: Path) -> None:
    """The hostile folder (rebuilt each run)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    face = cv2.imread(str(DEMO / "astronaut.png"))
    rgb = face[..., ::-1]
    shutil.copy(DEMO / "astronaut.png", folder / "photo.png")
    shutil.copy(DEMO / "astronaut-pan.mp4", folder / "clip-named.jpg")
    shutil.copy(DEMO / "astronaut-pan.mp4", folder / "stream.ts")
    (folder / "photo.jfif").write_bytes(cv2.imencode(".jpg", face)[1].tobytes())
    (folder / "notes.txt").write_text("not media\n")
    shutil.copy(DEMO / "astronaut.png", folder / ".hidden.png")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    os.mkfifo(folder / "pipe.mp4")
    cv2.imwrite(str(folder / "crowd-49.png"), np.vstack([np.hstack([cv2.resize(face, (256, 256))] * 7)] * 7))
    write_growing_ts(folder / "grows.ts", 64, 8192, n_small=4, n_big=2)  # 67 MP frames from frame 4
    small = Image.fromarray(rgb).resize((256, 256))
    frames = [small.rotate(a) for a in (-4, -2, 0, 2, 4)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    frames[0].save(folder / "anim.webp", save_all=True, append_images=frames[1:], duration=80)
    frames[0].save(folder / "pages.tiff", save_all=True, append_images=frames[1:])
    write_two_streams(folder / "two-streams.mkv", np.zeros((64, 64, 3), np.uint8), np.asarray(small))
    shutil.copy(DEMO / "astronaut.png", os.fsencode(folder) + b"/caf\xe9.png")
    noisy = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (7999, 8000, 3), dtype=np.uint8)).save(
        noisy, "JPEG", quality=90
    )
    (folder / "cut-8000x7999.jpg").write_bytes(noisy.getvalue()[:68_000] + b"\xff\xd9")
    canvas = np.full((3000, 4000, 3), 120, np.uint8)
    canvas[1000:1240, 2000:2240] = cv2.resize(face, (240, 240), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(folder / "large-small-face.jpg"), canvas)
    (folder / "bomb-20000x20000.png").write_bytes(_png_bomb(20000, 20000))


def run_one(path: Path, out: Path, model: str | None) -> dict:
    """Scan one input in a fresh process; its outcome and peak RSS (MB)."""
    cmd = [*FAKELENS, "scan", os.fsdecode(path), "--out", str(out), "-q"] + (
        ["--model", model] if model else []
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = b""
    try:
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    files = (
        [json.loads(x) for x in out.read_text().splitlines() if '"type": "file"' in x]
        if out.is_file()
        else []
    )
    rec = files[-1] if files else {}
    what = rec.get("verdict", "—")
    detail = rec.get("error") or rec.get("note") or ""
    if not files:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        detail = detail[0]
    return {
        "input": os.fsdecode(path.name),
        "exit": proc.returncode,
        "outcome": f"{rec.get('kind', '')} {what}".strip()
        + (f", {rec['faces']} faces" if rec.get("faces") else ""),
        "detail": detail[:110],
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-hostile")
    ap.add_argument(
        "--model", default=None, help="shipped name or checkpoint (default: the embedded default)"
    )
    args = ap.parse_args()
    corpus = args.out / "corpus"
    build_corpus(corpus)
    rows = []
    records = args.out / "records"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True)
    for i, path in enumerate(sorted(corpus.iterdir(), key=lambda p: os.fsencode(p.name))):
        if path.name.startswith("."):
            continue
        rows.append(run_one(path, records / f"{i:02d}.jsonl", args.model))
    whole = args.out / "whole.jsonl"
    whole.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*FAKELENS, "scan", str(corpus), "--out", str(whole), "-q"]
        + (["--model", args.model] if args.model else []),
        capture_output=True,
        text=True,
        errors="replace",
    )
    from fakelens.scan.api import collect_inputs

    inputs = collect_inputs([corpus])
    written = [json.loads(x) for x in whole.read_text().splitlines() if '"type": "file"' in x]
    folder = {
        "files": len(inputs.files),
        "records": len(written),
        "skipped": len(inputs.skipped),
        "exit": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    table = Table(title="fakelens scan on hostile inputs: one fresh process each, peak RSS from wait4")
    for col in ("input", "exit", "outcome", "peak MB", "s", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:
        peak = f"[red]{r['peak_mb']}[/]" if r["peak_mb"] > TARGET_MB else str(r["peak_mb"])
        table.add_row(r["input"], str(r["exit"]), r["outcome"], peak, str(r["seconds"]), r["detail"])
    console = Console(width=160)
    console.print(table)
    worst = max(rows, key=lambda r: r["peak_mb"])
    console.print(
        f"worst peak {worst['peak_mb']} MB ({worst['input']}; target <= {TARGET_MB} MB); whole folder: "
        f"{folder['records']} records for {folder['files']} files, {folder['skipped']} skipped, exit "
        f"{folder['exit']}, {folder['seconds']} s"
    )
    summary = {"inputs": rows, "folder": folder, "target_peak_mb": TARGET_MB}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
