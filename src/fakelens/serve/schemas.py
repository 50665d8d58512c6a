"""Response models of the HTTP API (they drive the OpenAPI spec) and the one error type.

The record models mirror ``fakelens.records`` field for field (a test keeps them in step); the
values themselves are always made by ``records.to_json``, so the API and the CLI's JSONL agree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ApiError(Exception):
    """A refusal: HTTP ``status`` with ``{"error": {"code": code, "message": one line}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = " ".join(str(message).split())
        self.headers = headers
        super().__init__(self.message)

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable reason, e.g. upload_too_large.")
    message: str = Field(description="One line for people.")


class ErrorOut(BaseModel):
    error: ErrorDetail


class FaceRecordOut(BaseModel):
    file: str
    frame: int
    time_s: float
    face: int
    box: tuple[int, int, int, int] = Field(description="x0, y0, x1, y1 in the original frame's pixels")
    score: float = Field(description="p(fake) of this face")
    track: int = Field(-1, description="the face track (linked across frames) this face belongs to")
    type: Literal["face"] = "face"


class FileRecordOut(BaseModel):
    file: str
    kind: str
    verdict: Literal["real", "fake", "no_face", "error"]
    score: float | None
    faces: int
    frames: int
    faceless_frames: int
    error: str | None = None
    model: str = ""
    threshold: float = 0.5
    rule: str = ""
    seconds: float = 0.0
    tracks: int = 0
    track: int | None = Field(None, description="the face track whose score is the file's")
    track_frames: int = Field(0, description="examined frames in which that track has a face")
    note: str | None = Field(None, description="why a readable file has no verdict (no_face), in words")
    faces_not_examined: int = Field(
        0, description="faces beyond max_faces per frame (the smallest), not scored"
    )
    image_score: float | None = Field(None, description="whole-image mode: p(fake) of the whole picture")
    decided_by: str | None = Field(None, description="whole-image mode: 'face' or 'whole image'")
    type: Literal["file"] = "file"


class EvidenceOut(BaseModel):
    face: FaceRecordOut
    frame_jpeg: str = Field(description="base64 JPEG: the frame, downscaled, with this face boxed")
    crop_jpeg: str = Field(description="base64 JPEG: the aligned face crop the model scored")
    heatmap_jpeg: str | None = Field(
        description="base64 JPEG: Grad-CAM of the evidence for 'fake' over the crop (None when the "
        "backend cannot compute gradients)"
    )


class ScanResult(BaseModel):
    file: FileRecordOut
    faces: list[FaceRecordOut]
    evidence: list[EvidenceOut] | None = Field(
        None, description="Top faces with crops and heat maps; only with ?evidence=true"
    )


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0..1: sampled frames scanned so far")
    created_at: float = Field(description="Unix time")
    finished_at: float | None = None
    expires_at: float | None = Field(None, description="Unix time after which a finished job is gone")
    result: ScanResult | None = None
    error: ErrorDetail | None = None


class ModelOut(BaseModel):
    name: str
    default: bool
    loaded: bool = Field(description="The model this server scans with")
    source: Literal["shipped", "checkpoint"] = Field(
        description="shipped with fakelens, or a checkpoint folder given to the server (never its path)"
    )


class ModelsOut(BaseModel):
    loaded: str
    backend: str
    threshold: float
    video_threshold: float  # videos' own (a track's trimmed mean), or the face threshold again
    models: list[ModelOut]


class HealthOut(BaseModel):
    status: Literal["ok"]
    model: str
    backend: str
    queued: int = Field(description="Scans waiting for the worker")
    jobs: int = Field(description="Video jobs remembered")
    uploading: int = Field(description="Uploads streaming in or being checked, not yet queued")
