"""Scanning files for forged faces: records, the per-file rule, JSONL output and HTML reports."""

from fakelens.scan.scanner import FileResult, Scanner, ScanOptions, trimmed_mean

__all__ = ["FileResult", "ScanOptions", "Scanner", "trimmed_mean", "scan_paths"]


def __getattr__(name):
    if name == "scan_paths":
        from fakelens.scan.api import scan_paths

        return scan_paths
    raise AttributeError(name)
