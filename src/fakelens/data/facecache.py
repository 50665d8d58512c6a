"""Real faces prepared once for training: aligned crop (through the same ``FacePipeline`` as scan)
and 68 landmarks on the crop, kept in one ``.npz`` per (file list, face config) so repeated runs and
resumes skip detection."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import track

from fakelens import __version__
from fakelens.errors import FakelensError
from fakelens.faces.landmarks import landmarks68
from fakelens.faces.pipeline import FaceConfig, FacePipeline
from fakelens.media import load_image


@dataclass
class FaceSet:
    crops: np.ndarray  # (N, S, S, 3) uint8
    landmarks: np.ndarray  # (N, 68, 2) float32
    paths: list[str]
    skipped: list[tuple[str, str]]  # (path, reason): no face or unreadable, reported not dropped

    def __len__(self) -> int:
        return len(self.paths)


def _cache_key(paths: list[Path], face: FaceConfig, aligned: set[Path]) -> str:
    """Changes with the files (name, size, mtime), the face config and the fakelens version, so a
    changed image or face pipeline never reuses stale crops."""
    stats = [(str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else (0, 0))) for p in paths]
    crops = sorted(str(p) for p in paths if p in aligned)
    blob = json.dumps(
        {"files": stats, "face": face.to_dict(), "crops": crops, "version": __version__}, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _as_crop(image: np.ndarray, face: FaceConfig, path: Path) -> np.ndarray:
    size = face.crop.size
    if image.shape[:2] != (size, size):
        raise FakelensError(
            f"marked as an aligned crop but is {image.shape[1]}x{image.shape[0]}, not {size}", path
        )
    return image


def build_faceset(
    paths: list[Path],
    face: FaceConfig,
    cache_dir: str | Path | None = None,
    aligned: set[Path] | frozenset[Path] = frozenset(),
) -> FaceSet:
    """Largest face of each image, aligned, with landmarks; cached by content of the request.

    Files in ``aligned`` are already crops in ``face``'s framing (``prepare``/``synth`` output): they
    are used as they are, since detecting and warping them again would resample their pixels."""
    paths = [Path(p) for p in paths]
    aligned = {Path(p) for p in aligned}
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"faces-{_cache_key(paths, face, aligned)}.npz"
        if cache.is_file():
            z = np.load(cache, allow_pickle=False)
            skipped = [tuple(s.split("\t", 1)) for s in z["skipped"].tolist()]
            return FaceSet(z["crops"], z["landmarks"], z["paths"].tolist(), skipped)
    pipe = FacePipeline(face)
    crops, lms, kept, skipped = [], [], [], []
    for p in track(paths, description="detecting faces"):
        try:
            if p in aligned:
                crop = _as_crop(load_image(p), face, p)
            else:
                faces = pipe.extract(load_image(p))
                if not faces:
                    skipped.append((str(p), "no face found"))
                    continue
                crop = faces[0].crop
            lm = landmarks68(crop, face.crop)
        except FakelensError as err:
            skipped.append((str(p), err.reason))
            continue
        except OSError as err:  # a file that vanished or cannot be read: skipped, and said so
            skipped.append((str(p), err.strerror or str(err)))
            continue
        # anything else came from the face pipeline, not the file: a bug that must fail loudly
        # (caught here, it would be cached as a "skipped" face and quietly shrink the training set)
        crops.append(crop)
        lms.append(lm)
        kept.append(str(p))
    size = face.crop.size
    fs = FaceSet(
        np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8),
        np.stack(lms).astype(np.float32) if lms else np.zeros((0, 68, 2), np.float32),
        kept,
        skipped,
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            crops=fs.crops,
            landmarks=fs.landmarks,
            paths=np.array(kept, dtype=str),
            skipped=np.array([f"{a}\t{b}" for a, b in skipped], dtype=str),
        )
        tmp.replace(cache)
    return fs
