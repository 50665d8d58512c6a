"""``fakelens scan``: files in, one record per face and one per file out, written as they come.

Per-file rule (documented in the README and in each record's ``rule`` field):
- a face's score is the detector's p(fake) for its aligned crop;
- a frame's score is the **max over its faces** (one forged face makes the frame forged);
- an image's score is its frame score;
- a video's score is the **20 %-trimmed mean of its frame scores** over the sampled frames that
  have a face (robust to a few misdetections or motion-blurred frames, unlike the max);
- verdict: ``fake`` when the score >= the model's threshold, ``real`` below it, ``no_face`` when no
  examined frame had a face, ``error`` when the file could not be read (with a one-line reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fakelens.errors import FakelensError, unexpected
from fakelens.faces.pipeline import FacePipeline
from fakelens.media import load_image, media_kind, sample_frames
from fakelens.models.detector import Detector
from fakelens.records import FaceRecord, FileRecord

IMAGE_RULE = "max over faces"
VIDEO_RULE = "20%-trimmed mean over frames of the max over faces"


@dataclass(frozen=True)
class ScanOptions:
    num_frames: int = 32  # evenly spaced over the video's real duration
    every: int | None = None  # or every k-th frame instead
    trim: float = 0.2  # fraction of frame scores cut from *each* end before averaging
    keep_evidence: int = 0  # keep this many top faces (crops + frames) per file for reports
    # applied to each decoded frame (RGB uint8) before face detection, e.g. a robustness
    # perturbation: the whole frame is degraded, as in the wild; video frames one at a time
    transform: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class Evidence:
    """What drove a verdict: the top-scoring faces with their crops and frames (report only)."""

    face: FaceRecord
    crop: np.ndarray
    frame: np.ndarray


@dataclass
class FileResult:
    record: FileRecord
    faces: list[FaceRecord] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


def thumbnail(image: np.ndarray, box: tuple[float, float, float, float], max_side: int = 360) -> np.ndarray:
    """A small copy of the frame with the face boxed, so reports never hold full frames."""
    scale = min(1.0, max_side / max(image.shape[:2]))
    small = (
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if scale < 1
        else image.copy()
    )
    x0, y0, x1, y1 = (int(round(v * scale)) for v in box)
    cv2.rectangle(small, (x0, y0), (x1, y1), (255, 40, 40), 2)
    return small


def frame_scores_of(faces: list[FaceRecord]) -> dict[int, tuple[float, float]]:
    """frame index -> (time_s, frame score); a frame's score is the max over its faces. The one
    place this rule lives: scan verdicts and ``fakelens evaluate`` both use it."""
    out: dict[int, tuple[float, float]] = {}
    for f in faces:
        if f.frame not in out or f.score > out[f.frame][1]:
            out[f.frame] = (f.time_s, f.score)
    return dict(sorted(out.items()))


def trimmed_mean(values: np.ndarray, trim: float) -> float:
    """Mean after cutting ``floor(trim * n)`` values from each end (the mean itself when n < 5)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    k = int(np.floor(trim * len(v)))
    if len(v) - 2 * k <= 0:
        return float(np.median(v))
    return float(v[k : len(v) - k].mean())


class Scanner:
    """Scans files with one detector; the face pipeline is the one the detector was trained with."""

    def __init__(self, detector: Detector, options: ScanOptions | None = None):
        self.detector = detector
        self.options = options or ScanOptions()
        self.faces = FacePipeline(detector.face)

    def _frames(self, path: Path, kind: str) -> Iterator[tuple[int, float, np.ndarray]]:
        opts = self.options
        transform = opts.transform or (lambda image: image)
        if kind == "image":
            yield 0, 0.0, transform(load_image(path))
            return
        for fr in sample_frames(path, num_frames=opts.num_frames, every=opts.every):
            yield fr.index, fr.time_s, transform(fr.image)

    def scan_file(self, path: str | Path) -> FileResult:
        """Scan one image or video; never raises for a bad file (it becomes an ``error`` record)."""
        t0 = time.perf_counter()
        path = Path(path)
        name = str(path)
        det = self.detector
        kind = "unknown"
        common = {"model": det.name, "threshold": det.threshold}
        face_records: list[FaceRecord] = []
        evidence: list[Evidence] = []
        # faces waiting to be scored together: (frame index, time_s, face index, aligned, thumbnail)
        pending: list[tuple] = []
        frames = faceless = 0

        def flush() -> None:
            """Score pending faces in one batch (cheaper per face than one call per frame)."""
            nonlocal evidence
            scores = det.predict_proba([p[3].crop for p in pending])
            for (index, time_s, i, a, thumb), s in zip(pending, scores, strict=True):
                box = tuple(int(round(v)) for v in a.face.box)
                rec = FaceRecord(
                    file=name, frame=index, time_s=float(time_s), face=i, box=box, score=float(s)
                )
                face_records.append(rec)
                if thumb is not None:
                    evidence.append(Evidence(rec, a.crop, thumb))
            evidence = sorted(evidence, key=lambda e: -e.face.score)[: self.options.keep_evidence]
            pending.clear()

        try:
            kind = media_kind(path)
            for index, time_s, image in self._frames(path, kind):
                frames += 1
                aligned = self.faces.extract(image)
                if not aligned:
                    faceless += 1
                    continue
                for i, a in enumerate(aligned):
                    thumb = thumbnail(image, a.face.box) if self.options.keep_evidence else None
                    pending.append((index, time_s, i, a, thumb))
                if len(pending) >= det.batch_size:
                    flush()
            if pending:
                flush()
        except FakelensError as err:
            error = err.message
        except Exception as err:  # noqa: BLE001 - a batch must go on past any single file
            error = f"cannot read '{name}': {unexpected(err)}"
        else:
            error = None
        if error is not None:  # no partial face records for a file that failed: it is one error
            rec = FileRecord(
                name,
                kind,
                "error",
                None,
                0,
                frames,
                faceless,
                error,
                **common,
                seconds=time.perf_counter() - t0,
            )
            return FileResult(rec, [], [])
        rule = IMAGE_RULE if kind == "image" else VIDEO_RULE
        frame_scores = [score for _, score in frame_scores_of(face_records).values()]
        if not frame_scores:
            verdict, score = "no_face", None
        else:
            score = (
                frame_scores[0]
                if kind == "image"
                else trimmed_mean(np.array(frame_scores), self.options.trim)
            )
            verdict = "fake" if score >= det.threshold else "real"
        rec = FileRecord(
            name,
            kind,
            verdict,
            score,
            len(face_records),
            frames,
            faceless,
            None,
            **common,
            rule=rule,
            seconds=time.perf_counter() - t0,
        )
        return FileResult(rec, face_records, evidence)

    def scan(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        for p in paths:
            yield self.scan_file(p)
