"""``fakelens evaluate``: score a labelled manifest through the scan pipeline and write the figures.

Frame-level: every sampled frame with a face is one sample (score = max over its faces). Video-level:
one score per ``video_id`` (a video file without one is its own video) by the scan's own rule,
``fakelens.rules.track_video_score`` (faces linked into tracks, the max over tracks of a track's
trimmed mean; crops from ``prepare`` link by their ``box`` column — the same tracks as scanning the
source video only when ``prepare --max-faces`` kept every face of a frame). Frames without a face and
unreadable files are counted in the results, not silently dropped; a failure of the model stops the
run (``ModelFailure``) rather than being counted as an unreadable file. Aligned crops from
``prepare``/``synth`` in the model's own framing skip detection (see ``_AlignedCrops``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress, track

from fakelens.errors import FakelensError
from fakelens.evaluate.manifest import read_manifest
from fakelens.evaluate.metrics import binary_metrics, evaluation_report
from fakelens.evaluate.plots import plot_roc, plot_score_histogram
from fakelens.evaluate.results import write_evaluation_tables
from fakelens.media import load_image
from fakelens.models.file_scanner import READ_ERRORS, ModelFailure, read_error_message


def evaluate_manifest(
    manifest: str | Path,
    out: str | Path,
    *,
    model=None,
    num_frames: int = 32,
    progress: bool | Progress = True,
    perturb=None,
) -> dict:
    """Evaluate ``model`` (a Detector, a checkpoint folder or a shipped name) on ``manifest``.

    ``perturb`` (``"jpeg:3"`` or a :class:`~fakelens.forge.perturb.Perturbation`) degrades every
    decoded frame before face detection (or the crop, for aligned crops scored as they are);
    ``progress`` may be a rich Progress to report into.
    """
    from fakelens.forge.perturb import parse_perturbation
    from fakelens.models.file_scanner import Scanner, ScanOptions
    from fakelens.models.loading import load_detector
    from fakelens.models.scorer import Scorer
    from fakelens.rules import frame_scores_of

    rows = read_manifest(manifest)
    perturbation = None if perturb is None else parse_perturbation(perturb)
    detector = model if isinstance(model, Scorer) else load_detector(model)
    transform = perturbation.transform() if perturbation else None
    framing = detector.face.fingerprint()  # aligned crops made in this framing are scored as they are
    scanner = Scanner(detector, ScanOptions(num_frames=num_frames, transform=transform))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(
        json.dumps(
            {
                "manifest": str(manifest),
                "model": detector.name,
                "num_frames": num_frames,
                "threshold": detector.threshold,
                "model_config": detector.config,
                "perturbation": perturbation.to_dict() if perturbation else None,
                "face_framing": framing,
                "test_time_adaptation": getattr(detector, "tta_report", None),  # opt-in; uses test batches
            },
            indent=2,
        )
    )

    samples = []  # (video_id, label, score, method)
    videos = _VideoFaces()  # every scored face per video: the video rule needs tracks, not frames
    outcome: Counter = Counter()
    faceless_frames = 0
    has_video_ids = any(r.video_id for r in rows)
    realigned = sum(1 for r in rows if r.aligned is not None and r.aligned != framing)
    if isinstance(progress, Progress):
        rows_iter = progress.track(rows, description=f"evaluating {perturbation or 'clean'}")
    elif progress:
        rows_iter = track(rows, description="evaluating", console=Console(stderr=True))
    else:
        rows_iter = rows
    with open(out / "scores.jsonl", "w") as fh:
        crops = _AlignedCrops(detector, transform, fh, videos)
        for row in rows_iter:
            if row.aligned == framing:  # a crop framed as this model frames faces: score it as is
                outcome["scored" if crops.add(row) else "error"] += 1
                continue
            result = scanner.scan_file(row.path)
            rec = result.record
            outcome[rec.verdict if rec.verdict in ("error", "no_face") else "scored"] += 1
            faceless_frames += rec.faceless_frames
            if rec.kind == "video":
                has_video_ids = True
            vid = row.video_id or str(row.path)
            base = videos.frame_base(vid, row, video_file=rec.kind == "video")
            image_row = rec.kind != "video"  # a crop or frame: prepare's box places it in its video
            for f in result.faces:
                box = row.box if image_row and row.box is not None else f.box
                face = row.face if image_row and row.face is not None else f.face
                videos.add(vid, row.label, base + f.frame, face, box, f.score)
            for frame, (time_s, score) in frame_scores_of(result.faces).items():
                samples.append((vid, row.label, score, row.method))
                fh.write(json.dumps(_score_line(row, vid, frame, time_s, score)) + "\n")
            if rec.verdict == "error":
                fh.write(json.dumps({"path": str(row.path), "error": rec.error}) + "\n")
        samples += crops.samples()

    if not samples:
        raise ValueError(
            f"no face could be scored in any of the {len(rows)} rows of '{manifest}' "
            f"({outcome['error']} unreadable, {outcome['no_face']} without a face; see {out / 'scores.jsonl'})"
        )
    y = np.array([s[1] for s in samples])
    scores = np.array([s[2] for s in samples])
    video_rows = videos.scored() if has_video_ids else None
    metrics = evaluation_report(y, scores, threshold=detector.threshold, videos=video_rows)
    per_method = {}
    methods = sorted({s[3] for s in samples if s[1] == 1 and s[3]})
    for m in methods:  # reals vs each forgery method: where cross-manipulation gaps show
        keep = np.array([s[1] == 0 or s[3] == m for s in samples])
        per_method[m] = binary_metrics(y[keep], scores[keep], threshold=detector.threshold)
    result = {
        "model": detector.name,
        "manifest": str(manifest),
        "rows": len(rows),
        "rows_scored": outcome["scored"],
        "rows_no_face": outcome["no_face"],
        "rows_error": outcome["error"],
        # aligned crops (prepare/synth) framed as the model frames faces are scored as they are;
        # crops framed differently go through face detection and alignment again
        "rows_scored_as_crops": crops.count,
        "rows_realigned": realigned,
        "faceless_frames": faceless_frames,
        "perturbation": perturbation.to_dict() if perturbation else None,
        "metrics": metrics,
        "frame_level_per_method": per_method,
    }
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    write_evaluation_tables(result, out)
    curves = {"frame-level": (y, scores)}
    if metrics.get("video_level"):
        curves["video-level"] = video_rows[1:]
    condition = f" ({perturbation})" if perturbation else ""
    plot_roc(curves, out / "roc.png", title=f"{detector.name} on {Path(manifest).name}{condition}")
    plot_score_histogram(y, scores, out / "scores.png", threshold=detector.threshold)
    return result


def _score_line(row, vid: str, frame: int, time_s: float | None, score: float) -> dict:
    return {
        "path": str(row.path),
        "frame": frame,
        "time_s": time_s,
        "label": row.label,
        "score": round(float(score), 6),
        "video_id": vid,
        "method": row.method,
    }


@dataclass(frozen=True)
class _Face:
    frame: int
    face: int
    box: tuple | None
    score: float


class _VideoFaces:
    """Faces per video, in the shape ``rules.track_video_score`` links: a video file's own frame
    numbers; an image row's ``frame`` column, else its order of appearance in the video."""

    def __init__(self):
        self.faces: dict[str, list[_Face]] = {}
        self.labels: dict[str, int] = {}
        self._order: dict[tuple[str, str], int] = {}
        self._files: dict[str, int] = {}
        self._count: dict[str, int] = {}

    def frame_base(self, vid: str, row, video_file: bool) -> int:
        """The frame number a row's faces start at: video files of one id are laid end to end."""
        if video_file:
            k = self._files.setdefault(f"{vid}\0{row.path}", len(self._files))
            return k * 1_000_000
        if row.frame is not None:
            return int(row.frame)
        key = (vid, str(row.path))
        if key not in self._order:
            self._order[key] = self._count.get(vid, 0)
            self._count[vid] = self._order[key] + 1
        return self._order[key]

    def add(self, vid: str, label: int, frame: int, face: int, box, score: float) -> None:
        if self.labels.setdefault(vid, label) != label:
            raise ValueError(f"video {vid!r} mixes real and fake rows")
        self.faces.setdefault(vid, []).append(_Face(frame, face, tuple(box) if box else None, score))

    def scored(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        from fakelens.rules import track_video_score

        ids = list(self.faces)
        scores = np.array([track_video_score(self.faces[v])[0] for v in ids])
        return ids, np.array([self.labels[v] for v in ids]), scores


class _AlignedCrops:
    """Scores already-aligned face crops in batches, without detecting the face again (a second
    detection and warp would resample the pixels and could pick another face in the margin).

    Faces of one frame (same ``video_id`` and ``frame``) become one frame sample scored by their
    maximum, as in scanning; a row without a frame index is a frame of its own."""

    def __init__(self, detector, transform, fh, videos: _VideoFaces):
        self.detector, self.transform, self.fh, self.videos = detector, transform, fh, videos
        self.pending: list[tuple] = []
        self.frames: dict[tuple[str, str], list] = {}  # (video, frame) -> [label, score, method]
        self.count = 0

    def add(self, row) -> bool:
        """Queue one crop; False (and an error line) when it cannot be read. Only reading counts as
        the file's fault: a failing perturbation or model raises, as in scanning."""
        try:
            image = load_image(row.path)
        except READ_ERRORS as err:  # an evaluation goes on past any unreadable file, as scan does
            self.fh.write(
                json.dumps({"path": str(row.path), "error": read_error_message(row.path, err)}) + "\n"
            )
            return False
        image = self.transform(image) if self.transform else image
        self.pending.append((row, image))
        self.count += 1
        if len(self.pending) >= self.detector.batch_size:
            self._flush()
        return True

    def _flush(self) -> None:
        if not self.pending:
            return
        try:
            scores = self.detector.predict_proba([image for _, image in self.pending])
        except FakelensError:
            raise  # already one line (a model that cannot load): stops the run as it is
        except Exception as err:
            raise ModelFailure(self.pending[0][0].path, err) from err
        for (row, _), score in zip(self.pending, scores, strict=True):
            vid = row.video_id or str(row.path)
            frame = row.frame if row.frame is not None else 0
            key = (vid, str(row.frame) if row.frame is not None else str(row.path))
            base = self.videos.frame_base(vid, row, video_file=False)
            self.videos.add(vid, row.label, base, row.face or 0, row.box, float(score))
            best = self.frames.setdefault(key, [row.label, float(score), row.method])
            best[1] = max(best[1], float(score))
            self.fh.write(json.dumps(_score_line(row, vid, frame, None, score)) + "\n")
        self.pending.clear()

    def samples(self) -> list[tuple]:
        self._flush()
        return [(key[0], label, score, method) for key, (label, score, method) in self.frames.items()]
