"""What every layout parser shares: :class:`Item`, media discovery and path helpers.

A unit of media is a video file, a standalone image, or a *frames folder* (the frames of one video):
a folder of images is a frames folder unless it is a layout's class/method/domain folder or is named
like a container (``train``, ``frames``, ``images`` ...), whose images are separate photos.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fakelens.media.kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

LAYOUTS = ("ffpp", "celebdf", "dfdc", "df40", "generic", "manifest")
SPLITS = ("train", "val", "test")
_SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_CONTAINER_NAMES = {"frames", "images", "imgs", "videos", "faces", "photos", *_SPLIT_NAMES}
_REAL_NAMES = {"real", "reals", "original", "originals", "youtube", "celeb-real", "youtube-real", "pristine"}
FFPP_COMPRESSIONS = ("raw", "c23", "c40")


@dataclass(frozen=True)
class Item:
    """One video (or photo) to turn into faces; ``source`` is a video, an image or a frames folder."""

    source: Path
    label: int  # 0 real, 1 fake
    dataset: str
    method: str
    video_id: str
    split: str
    mask: Path | None = None  # FF++ mask video (or mask frames folder), same frame indices as source
    compression: str | None = None
    group: str | None = None  # the split's key where the dataset names one (a MANIFEST.tsv ``group``)

    @property
    def kind(self) -> str:
        if self.source.is_dir():
            return "frames"
        return "video" if self.source.suffix.lower() in VIDEO_EXTENSIONS else "image"


# --- helpers -------------------------------------------------------------------------------------


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


def media_units(folder: Path, is_container: Callable[[Path], bool]) -> list[Path]:
    """Videos, standalone images and frames folders under ``folder`` (sorted, hidden names skipped)."""
    units: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        names = sorted(n for n in filenames if not n.startswith("."))
        units += [here / n for n in names if Path(n).suffix.lower() in VIDEO_EXTENSIONS]
        images = [here / n for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS]
        if images:
            container = here == folder or is_container(here) or here.name.lower() in _CONTAINER_NAMES
            units += images if container else [here]
    return units


def frame_files(folder: Path) -> list[Path]:
    """The images of a frames folder in frame order (natural sort: 2.png before 10.png)."""
    files = [p for p in _listdir(folder) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])


def _stem(unit: Path) -> str:
    return unit.name if unit.is_dir() else unit.stem


def _rel_id(unit: Path, root: Path) -> str:
    """Path below ``root`` without the media extension: unique and readable."""
    rel = unit.relative_to(root)
    return (rel if unit.is_dir() else rel.with_suffix("")).as_posix()


def _split_component(parts: tuple[str, ...]) -> str | None:
    for part in parts:
        if part.lower() in _SPLIT_NAMES:
            return _SPLIT_NAMES[part.lower()]
    return None


def _child(root: Path, name: str) -> Path | None:
    """Case-insensitive child lookup (datasets ship as Celeb-real, celeb-real, ...)."""
    for p in _listdir(root):
        if p.name.lower() == name.lower() and p.is_dir():
            return p
    return None
