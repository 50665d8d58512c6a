"""The per-file scanning engine: a file in, its face records and one file record out.

It lives below ``evaluate`` (it needs only media, faces and a detector) so that ``evaluate``,
``scan`` and ``serve`` share it without reaching up the layers; the score rules are ``fakelens.rules``.

A file that cannot be read (missing, corrupt, not media) becomes an ``error`` record and a batch goes
on. A failure of face detection or of the model is not a property of the file: it raises
:class:`ModelFailure`, so a broken model stops the run instead of turning every file into an "error".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FacePipeline
from fakelens.media import load_image, media_kind, sample_frames
from fakelens.media.containers import stream_note
from fakelens.media.image import image_frame_count, load_image_frames
from fakelens.models.scorer import Scorer, file_threshold, predict_for_kind
from fakelens.records import FaceRecord, FileRecord
from fakelens.rules import (
    DEFAULT_TRIM,
    IMAGE_RULE,
    WHOLE_IMAGE_RULE,
    frame_scores_of,
    track_video_score,
    video_rule,
)

# what reading a bad file raises (media/ turns most into MediaError; the rest are the decoders' own)
READ_ERRORS: tuple[type[BaseException], ...] = (
    FakelensError,
    OSError,
    av.FFmpegError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
)


class ModelFailure(Exception):
    """Face detection or the model failed on a readable file: a bug or a broken model, never a bad
    file. One line naming the file and the original error; the original is ``__cause__``."""

    def __init__(self, path: str | Path, err: BaseException):
        self.path = str(path)
        self.cause = err
        detail = " ".join(str(err).split())[:300]
        self.reason = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
        super().__init__(f"model failure while scanning '{self.path}': {self.reason}")

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ScanOptions:
    num_frames: int = 32  # evenly spaced over the video's real duration
    every: int | None = None  # or every k-th frame instead
    trim: float = DEFAULT_TRIM  # fraction of frame scores cut from *each* end before averaging
    keep_evidence: int = 0  # keep this many top faces (crops + frames) per file for reports
    # faces examined per frame, largest first (the model's own max_faces is a training choice and
    # would hide a forged face in a crowd); faces beyond it are counted in the record
    max_faces: int = 64
    # also score the whole picture of a one-face image (centre square at the crop size): generated
    # portraits are fakes as a whole; the file score is the higher one and the record says which
    whole_image: bool = False
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


def whole_picture(image: np.ndarray, size: int) -> np.ndarray:
    """The largest centred square of a picture at ``size`` px: what --whole-image scores."""
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    square = image[y : y + side, x : x + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)


def read_error_message(path: str | Path, err: BaseException) -> str:
    """The one line for a file that cannot be read: the media layer's own, else the decoder's."""
    if isinstance(err, FakelensError):
        return err.message
    if isinstance(err, OSError) and err.strerror:
        return f"cannot read '{path}': {err.strerror}"
    detail = " ".join(str(err).split())[:200]
    return f"cannot read '{path}': {type(err).__name__}" + (f": {detail}" if detail else "")


class Scanner:
    """Scans files with one detector; the face pipeline is the one the detector was trained with."""

    def __init__(self, detector: Scorer, options: ScanOptions | None = None):
        self.detector = detector
        self.options = options or ScanOptions()
        self.faces = FacePipeline(detector.face)

    def _checkpoint(self) -> None:
        """Called before each face detection and each scoring batch: a subclass whose work can be
        abandoned (the server's timed-out request) raises here, so a cancelled scan stops within
        one step instead of running to the end."""

    def _frames(self, path: Path, kind: str) -> Iterator[tuple[int, float, np.ndarray]]:
        opts = self.options
        transform = opts.transform or (lambda image: image)
        if kind == "image":
            yield 0, 0.0, transform(load_image(path))
            return
        if kind == "animation":  # sampled like a video, by Pillow (FFmpeg reads no TIFF pages)
            for index, time_s, image in load_image_frames(path, opts.num_frames or 32):
                yield index, time_s, transform(image)
            return
        for fr in sample_frames(path, num_frames=opts.num_frames, every=opts.every):
            yield fr.index, fr.time_s, transform(fr.image)

    def scan_file(self, path: str | Path) -> FileResult:
        """Scan one image or video. A file that cannot be read is an ``error`` record; a failure of
        face detection or the model raises :class:`ModelFailure` (it is not the file's fault)."""
        t0 = time.perf_counter()
        path = Path(path)
        name = str(path)
        det = self.detector
        kind = "unknown"
        face_records: list[FaceRecord] = []
        evidence: list[Evidence] = []
        # faces waiting to be scored together: (frame index, time_s, face index, aligned, thumbnail)
        pending: list[tuple] = []
        frames = faceless = not_examined = 0
        media_note: str | None = None
        still: np.ndarray | None = None  # an image's picture, for --whole-image
        error: str | None = None

        def flush() -> None:
            """Score pending faces in one batch (cheaper per face than one call per frame)."""
            nonlocal evidence
            self._checkpoint()
            scores = predict_for_kind(det, [p[3].crop for p in pending], kind)
            for (index, time_s, i, a, thumb), s in zip(pending, scores, strict=True):
                box = tuple(int(round(v)) for v in a.face.box)
                rec = FaceRecord(
                    file=name, frame=index, time_s=float(time_s), face=i, box=box, score=float(s)
                )
                face_records.append(rec)
                if thumb is not None:
                    evidence.append(Evidence(rec, a.crop, thumb))
            # keep more candidates than shown: the deciding track is known only at the end
            evidence = sorted(evidence, key=lambda e: -e.face.score)[: 4 * self.options.keep_evidence]
            pending.clear()

        source: Iterator | None = None
        try:
            try:  # reading: only here does a failure mean "this file cannot be read"
                kind = media_kind(path)
                if kind == "image" and image_frame_count(path) > 1:
                    kind = "animation"  # an animated GIF/WebP/PNG or a multi-page TIFF
                media_note = stream_note(path) if kind == "video" else None
                source = self._frames(path, kind)
            except READ_ERRORS as err:
                error = read_error_message(name, err)
            while source is not None:
                try:
                    index, time_s, image = next(source)
                except StopIteration:
                    break
                except READ_ERRORS as err:
                    error = read_error_message(name, err)
                    break
                frames += 1
                if kind == "image" and self.options.whole_image:
                    still = image
                try:  # detection and scoring: a failure here is the model's, and stops the run
                    self._checkpoint()
                    found = self.faces.detect_all(image, second_look=kind == "image")
                    not_examined += max(0, len(found) - self.options.max_faces)
                    aligned = self.faces.align(image, found[: self.options.max_faces])
                    for i, a in enumerate(aligned):
                        thumb = thumbnail(image, a.face.box) if self.options.keep_evidence else None
                        pending.append((index, time_s, i, a, thumb))
                    if len(pending) >= det.batch_size:
                        flush()
                except FakelensError:
                    raise  # already one line (e.g. a model that cannot load): it stops the run as it is
                except Exception as err:
                    raise ModelFailure(name, err) from err
                if not aligned:
                    faceless += 1
            if error is None and pending:
                try:
                    flush()
                except FakelensError:
                    raise
                except Exception as err:
                    raise ModelFailure(name, err) from err
        finally:
            if source is not None:
                source.close()  # releases an open video container at once, whatever happened
        common = {"model": det.name, "threshold": file_threshold(det, kind)}
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
        score, track, track_frames, tracks = None, None, 0, 0
        if kind == "image":
            rule = IMAGE_RULE
            frame_scores = [s for _, s in frame_scores_of(face_records).values()]
            score = frame_scores[0] if frame_scores else None
        else:
            rule = video_rule(self.options.trim)
        image_score = decided_by = None
        if still is not None and len(face_records) == 1:
            try:
                image_score = float(det.predict_proba([whole_picture(still, det.face.crop.size)])[0])
            except FakelensError:
                raise
            except Exception as err:
                raise ModelFailure(name, err) from err
            decided_by = "whole image" if image_score > score else "face"
            score, rule = max(score, image_score), WHOLE_IMAGE_RULE
        if face_records:
            video, best, ids = track_video_score(face_records, self.options.trim)
            face_records = [replace(f, track=t) for f, t in zip(face_records, ids, strict=True)]
            by_key = {(f.frame, f.face): f for f in face_records}
            evidence = [replace(e, face=by_key[(e.face.frame, e.face.face)]) for e in evidence]
            tracks = len(set(ids))
            if kind == "image":
                track = max(face_records, key=lambda f: (f.score, -f.face)).track
            else:
                score, track = video, best
            track_frames = sum(1 for t in ids if t == track)
            # what drove the verdict: the deciding track's faces first, then the others, by score
            evidence = sorted(evidence, key=lambda e: (e.face.track != track, -e.face.score))
        evidence = evidence[: self.options.keep_evidence]
        note = None
        if score is None:
            verdict = "no_face"
            fc = det.face
            note = (
                f"no face found in {frames} frame(s) examined: faces under {fc.min_face} px or with "
                f"detector confidence under {fc.score_threshold} are not examined"
            )
        else:
            verdict = "fake" if score >= common["threshold"] else "real"
        if media_note:
            note = f"{note}; {media_note}" if note else media_note
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
            tracks=tracks,
            track=track,
            track_frames=track_frames,
            note=note,
            faces_not_examined=not_examined,
            image_score=image_score,
            decided_by=decided_by,
        )
        return FileResult(rec, face_records, evidence)

    def scan(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        for p in paths:
            yield self.scan_file(p)
