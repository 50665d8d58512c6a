"""Deterministic train/val/test splits by hashing a stable key (the file name), so the split of a
file never changes when files are added, removed or listed in another order."""

from __future__ import annotations

import hashlib
from pathlib import Path


def split_of(key: str, val: float = 0.1, test: float = 0.2, salt: str = "fakelens") -> str:
    """'test' for the first ``test`` fraction of hash space, then 'val', else 'train'."""
    digest = hashlib.sha1(f"{salt}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


def split_files(paths: list[Path], val: float = 0.1, test: float = 0.2, salt: str = "fakelens") -> dict:
    """{'train': [...], 'val': [...], 'test': [...]} keyed by each file's name."""
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for p in sorted(paths):
        out[split_of(Path(p).name, val, test, salt)].append(Path(p))
    return out
