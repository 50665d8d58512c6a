"""Every limit and knob of ``fakelens serve`` in one place, so the CLI, tests and the benchmark
set the same fields and the OpenAPI text can quote them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("torch", "onnx", "auto")


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"  # loopback by default: exposing the server is an explicit choice
    port: int = 8000
    model: str | None = None  # checkpoint folder or shipped name; None = the embedded default
    backend: str = "auto"  # "torch" | "onnx" | "auto" (onnx when installed), passed to load_detector
    # disk in the worst case: (2 x max_queue + 1) x max_upload_mb (uploads in flight, queued, running)
    max_upload_mb: float = 100.0  # counted while the body streams in, never after
    max_pixels: int = 40_000_000  # per image or video frame: the media loader's bomb check
    max_video_s: float = 600.0  # longest video accepted (probed from timestamps before scanning)
    request_timeout_s: float = 60.0  # receiving an upload, and an image's scan (queue wait included)
    job_timeout_s: float = 600.0  # a video job's scan time
    job_ttl_s: float = 600.0  # finished jobs (and their results) are forgotten after this
    max_queue: int = 32  # scans waiting for the worker (and uploads streaming in); more get 429
    max_uploads_per_client: int = 8  # uploads streaming in from one client address at once; more get 429
    # a body must keep coming: after upload_grace_s it must average min_upload_kbps (KB/s), so a
    # slow-body client holds an upload slot for seconds, not for the whole request timeout
    upload_grace_s: float = 5.0
    min_upload_kbps: float = 32.0
    max_jobs: int = 256  # video jobs remembered at once (oldest finished ones go first)
    num_frames: int = 32  # frames sampled per video, evenly over its duration
    evidence_faces: int = 3  # top faces returned with crops and heat maps for ?evidence=true
    tmp_dir: Path | None = None  # where per-upload folders are made (None: the system's temp dir)

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        for name in (
            *("max_upload_mb", "max_video_s", "request_timeout_s", "job_timeout_s", "job_ttl_s"),
            *("upload_grace_s", "min_upload_kbps"),
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_pixels", "max_queue", "max_uploads_per_client", "max_jobs", "num_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
