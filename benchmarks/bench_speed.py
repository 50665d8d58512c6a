"""Scan throughput of fakelens against a DeepfakeBench-style baseline, side by side in one process.

fakelens: PyAV decode of only the sampled frames (demux pass for timestamps) -> YuNet at <= 640 px ->
5-point alignment (+1 dlib refinement) -> the shipped model.
Baseline (DeepfakeBench preprocessing + detector): OpenCV grabs every frame and retrieves the sampled
ones -> dlib HOG detector (upsample 1) on the full frame -> 1.3x box crop at 256 px -> EfficientNet-B4
(timm, random weights: only speed is measured).

Figures: photos per second (512 px, one face) and wall seconds per 10 s of 1080p video, with the ratio.
Usage: python benchmarks/bench_speed.py [--repeats 20] [--frames 32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from fakelens.media import load_image
from fakelens.models import create_model
from fakelens.models.detector import load_detector
from fakelens.scan import Scanner, ScanOptions

ROOT = Path(__file__).resolve().parents[1]
DFDC_CLIP = ROOT.parent / "shared" / "data" / "dfdc-samples" / "videos" / "fake" / "abofeumbvv.mp4"


class Baseline:
    def __init__(self):
        import dlib

        self.hog = dlib.get_frontal_face_detector()
        self.model = create_model("effnet-b4").eval()

    def score_image(self, rgb: np.ndarray) -> float | None:
        rects = self.hog(rgb, 1)
        if not rects:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        cx, cy, half = (
            (r.left() + r.right()) / 2,
            (r.top() + r.bottom()) / 2,
            1.3 * max(r.width(), r.height()) / 2,
        )
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = (
            int(max(v, 0)) for v in (cx - half, cy - half, min(cx + half, w), min(cy + half, h))
        )
        crop = cv2.resize(rgb[y0:y1, x0:x1], (256, 256))
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.inference_mode():
            return float(torch.sigmoid(self.model(x))[0])

    def scan_photo(self, path: Path) -> float | None:
        return self.score_image(cv2.imread(str(path))[..., ::-1].copy())

    def scan_video(self, path: Path, frames: int) -> list:
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(np.linspace(0, n - 1, frames).astype(int).tolist())
        scores = []
        for i in range(n):
            if not cap.grab():
                break
            if i in wanted:
                ok, bgr = cap.retrieve()
                if ok:
                    scores.append(self.score_image(bgr[..., ::-1].copy()))
        return scores


def make_1080p_clip(image: np.ndarray, path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """Stand-in when the DFDC clip is absent: the demo photo panned across a 1080p frame."""
    big = cv2.resize(image, (1080, 1080))
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(seconds * fps):
            frame = np.zeros((1080, 1920, 3), np.uint8)
            x = int(840 * i / (seconds * fps - 1))
            frame[:, x : x + 1080] = big
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (model load, first inference)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--video-repeats", type=int, default=2)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-speed")
    args = ap.parse_args()
    torch.set_num_threads(2)
    photo = ROOT / "demo" / "astronaut.png"
    assert load_image(photo).shape[:2] == (512, 512)
    ours = Scanner(load_detector(), ScanOptions(num_frames=args.frames))
    base = Baseline()
    with tempfile.TemporaryDirectory() as tmp:
        clip = DFDC_CLIP if DFDC_CLIP.is_file() else make_1080p_clip(load_image(photo), Path(tmp) / "pan.mp4")
        t_ours_photo = timed(lambda: ours.scan_file(photo), args.repeats)
        t_base_photo = timed(lambda: base.scan_photo(photo), args.repeats)
        t_ours_video = timed(lambda: ours.scan_file(clip), args.video_repeats)
        t_base_video = timed(lambda: base.scan_video(clip, args.frames), args.video_repeats)
        rec = ours.scan_file(clip).record
    figures = {
        "clip": clip.name,
        "frames_sampled": rec.frames,
        "photos_per_s": {"fakelens": 1 / t_ours_photo, "baseline": 1 / t_base_photo},
        "s_per_10s_1080p": {"fakelens": t_ours_video, "baseline": t_base_video},
        "speedup_photo": t_base_photo / t_ours_photo,
        "speedup_video": t_base_video / t_ours_video,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(figures, indent=2))
    print(f"clip: {clip.name} ({rec.frames} frames sampled, {rec.faces} faces)")
    print(f"{'':34} {'fakelens':>10} {'baseline':>10} {'speed-up':>9}")
    print(
        f"{'photos/s (512 px, one face)':34} {1 / t_ours_photo:10.1f} {1 / t_base_photo:10.1f} "
        f"{t_base_photo / t_ours_photo:8.1f}x"
    )
    print(
        f"{'s per 10 s of 1080p video':34} {t_ours_video:10.2f} {t_base_video:10.2f} "
        f"{t_base_video / t_ours_video:8.1f}x"
    )


if __name__ == "__main__":
    main()
