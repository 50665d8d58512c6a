"""Scanning files for forged faces: records, the per-file rule, JSONL output and HTML reports."""

from fakelens.scan.scanner import FileResult, ModelFailure, Scanner, ScanOptions, trimmed_mean, video_score

__all__ = [
    "FileResult",
    "ModelFailure",
    "ScanOptions",
    "Scanner",
    "trimmed_mean",
    "video_score",
    "scan_paths",
]


def __getattr__(name):
    if name == "scan_paths":
        from fakelens.scan.api import scan_paths

        return scan_paths
    raise AttributeError(name)
