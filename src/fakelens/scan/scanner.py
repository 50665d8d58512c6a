"""``fakelens scan``'s per-file engine, re-exported from where it lives.

The engine is :mod:`fakelens.models.file_scanner` (below ``evaluate``, which shares it) and the
score rules are :mod:`fakelens.rules`; these names stay importable from here for existing callers.
"""

from __future__ import annotations

from fakelens.models.file_scanner import (
    READ_ERRORS,
    Evidence,
    FileResult,
    ModelFailure,
    Scanner,
    ScanOptions,
    read_error_message,
    thumbnail,
)
from fakelens.rules import IMAGE_RULE, VIDEO_RULE, frame_scores_of, trimmed_mean, video_score

__all__ = [
    "IMAGE_RULE",
    "READ_ERRORS",
    "VIDEO_RULE",
    "Evidence",
    "FileResult",
    "ModelFailure",
    "ScanOptions",
    "Scanner",
    "frame_scores_of",
    "read_error_message",
    "thumbnail",
    "trimmed_mean",
    "video_score",
]
