"""The scanning side of the server: checks an upload against the limits, then scans it with the
same ``Scanner`` as ``fakelens scan`` and returns its records as the CLI serialises them."""

from __future__ import annotations

import base64
import json
import warnings
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from fakelens.errors import FakelensError
from fakelens.media import load_image, probe_video, sample_frames, sniff_kind
from fakelens.media.image import load_image_frames
from fakelens.models.detector import Detector
from fakelens.records import to_json
from fakelens.scan.scanner import Evidence, FileResult, ModelFailure, Scanner, ScanOptions
from fakelens.serve.jobs import Job
from fakelens.serve.schemas import ApiError
from fakelens.serve.settings import ServeSettings
from fakelens.serve.uploads import Upload


def sniff(upload: Upload) -> str:
    """``image`` or ``video`` from the file's first bytes; the name and declared type are ignored."""
    kind = sniff_kind(upload.head)
    if kind is None:
        raise ApiError(415, "unsupported_media_type", "the content is not a recognised image or video format")
    return kind


def _image_pixels(path: Path) -> int | None:
    """Pixel count from the header alone (no decode), or None when Pillow cannot tell."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                return im.size[0] * im.size[1]
        except Image.DecompressionBombError:
            return 2**63
        except Exception:  # noqa: BLE001 - the loader below gives the proper reason
            return None


def check_image_header(upload: Upload, settings: ServeSettings) -> int:
    """Refuse a pixel bomb (413) from the header, before anything is queued; frames to be scanned."""
    pixels = _image_pixels(upload.path)
    if pixels is not None and pixels > settings.max_pixels:
        shown = "more than Pillow's hard limit" if pixels == 2**63 else f"{pixels} pixels"
        raise ApiError(413, "too_many_pixels", f"image has {shown}, over the limit of {settings.max_pixels}")
    return 1


def check_image(upload: Upload, settings: ServeSettings) -> np.ndarray:
    """Decode an uploaded image that passed ``check_image_header``, or say why it cannot be read (422)."""
    try:
        return load_image(upload.path, max_pixels=settings.max_pixels)
    except FakelensError as err:
        raise ApiError(422, "unreadable_media", f"cannot read '{upload.name}': {err.reason}") from None


def check_video(upload: Upload, settings: ServeSettings) -> int:
    """Probe an uploaded video against the duration and frame-size limits; frames to be scanned."""
    try:
        info = probe_video(upload.path)
    except FakelensError as err:
        raise ApiError(422, "unreadable_media", f"cannot read '{upload.name}': {err.reason}") from None
    if info.duration_s > settings.max_video_s:
        raise ApiError(
            413,
            "video_too_long",
            f"video lasts {info.duration_s:.1f} s, over the limit of {settings.max_video_s:g} s",
        )
    if info.width * info.height > settings.max_pixels:
        raise ApiError(
            413,
            "too_many_pixels",
            f"video frames have {info.width * info.height} pixels, over the limit of {settings.max_pixels}",
        )
    return max(1, min(settings.num_frames, info.frames))


class ServeScanner(Scanner):
    """``Scanner`` that takes an already decoded image, reports progress and obeys a job's deadline.

    Only ``_frames`` differs: the per-file rule, batching and records are the CLI's own code.
    """

    def __init__(self, detector: Detector, settings: ServeSettings):
        super().__init__(detector, ScanOptions(num_frames=settings.num_frames))
        self.settings = settings
        self._image: np.ndarray | None = None
        self._job: Job | None = None
        self._planned = 1

    def _checkpoint(self) -> None:
        if self._job is not None:
            self._job.check()  # raises JobCancelled: the request timed out or went away

    def _frames(self, path: Path, kind: str):
        job = self._job
        if kind == "image":
            image, self._image = self._image, None
            yield 0, 0.0, image if image is not None else load_image(path, self.settings.max_pixels)
            return
        if kind == "animation":  # the frames are read again: the decoded first one is not enough
            self._image = None
            frames = load_image_frames(path, self.options.num_frames, self.settings.max_pixels)
        else:
            frames = (
                (fr.index, fr.time_s, fr.image)
                for fr in sample_frames(
                    path, num_frames=self.options.num_frames, max_pixels=self.settings.max_pixels
                )
            )
        for n, frame in enumerate(frames, start=1):
            if job is not None:
                job.check()
                job.progress = min(0.99, (n - 1) / self._planned)
            yield frame

    def scan_upload(
        self, upload: Upload, job: Job, image: np.ndarray | None, planned: int, evidence: bool
    ) -> FileResult:
        self._image, self._job, self._planned = image, job, planned
        self.options = replace(self.options, keep_evidence=self.settings.evidence_faces if evidence else 0)
        try:
            return self.scan_file(upload.path)
        except ModelFailure as err:  # the server's fault, not the upload's: 500, named by the client's name
            raise ApiError(
                500, "model_failure", f"model failure while scanning '{upload.name}': {err.reason}"
            ) from err
        finally:
            self._image = self._job = None


def result_json(result: FileResult, upload: Upload, detector: Detector | None) -> dict:
    """The file and face records exactly as the CLI writes them (``records.to_json``), relabelled
    with the client's file name instead of the server's temp path; plus evidence when kept."""
    name = upload.name
    error = result.record.error
    if error is not None:  # the scanner names the file it read: the server's path is not for clients
        error = error.replace(str(upload.path), name)
    record = replace(result.record, file=name, error=error)
    out = {
        "file": json.loads(to_json(record)),
        "faces": [json.loads(to_json(replace(f, file=name))) for f in result.faces],
        "evidence": None,
    }
    if detector is not None:
        out["evidence"] = [_evidence_json(ev, name, detector, result.record.kind) for ev in result.evidence]
    return out


def _jpeg(rgb: np.ndarray, quality: int = 85) -> str:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _evidence_json(ev: Evidence, name: str, detector: Detector, kind: str = "image") -> dict:
    """Crop, boxed frame and Grad-CAM overlay, reusing the HTML report's code (scan.explain)."""
    heat = None
    if getattr(detector, "can_explain", True):  # an ONNX-only checkpoint has no gradients
        from fakelens.scan.explain import grad_cam, overlay

        heat = _jpeg(overlay(ev.crop, grad_cam(detector, ev.crop, kind)))
    return {
        "face": json.loads(to_json(replace(ev.face, file=name))),
        "frame_jpeg": _jpeg(ev.frame),
        "crop_jpeg": _jpeg(ev.crop),
        "heatmap_jpeg": heat,
    }
