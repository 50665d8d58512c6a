"""Raw deepfake dataset trees -> a flat list of labelled videos (:class:`Item`), one parser per layout.

Labels, splits and video ids come from each dataset's own conventions (official split files, test
lists, metadata) and, only where a dataset has none, from a hash split grouped by source, so that
a real video and the fakes made from it never land in different splits. ``video_id`` is unique
across methods and datasets (``ffpp/Deepfakes/c23/000_003``): DeepfakeBench groups videos by folder
name and merges FF++'s ``000_003`` of four methods into one "video"; grouping here never does.

Parsers: ``ffpp`` (FF++ with DFD, Celeb-DF), ``others`` (DFDC, DF40, generic) and ``manifest`` (a
folder's own MANIFEST.tsv); what a unit of media is, and the helpers they share: ``base``.
"""

from __future__ import annotations

from pathlib import Path

from fakelens.data.layouts.base import (
    FFPP_COMPRESSIONS,
    LAYOUTS,
    SPLITS,
    Item,
    frame_files,
    media_units,
)
from fakelens.data.layouts.ffpp import parse_celebdf, parse_ffpp
from fakelens.data.layouts.manifest import parse_manifest
from fakelens.data.layouts.others import parse_df40, parse_dfdc, parse_generic
from fakelens.errors import FakelensError

__all__ = [
    "FFPP_COMPRESSIONS",
    "LAYOUTS",
    "SPLITS",
    "Item",
    "frame_files",
    "media_units",
    "parse_celebdf",
    "parse_df40",
    "parse_dfdc",
    "parse_ffpp",
    "parse_generic",
    "parse_layout",
    "parse_manifest",
]

_PARSERS = {
    "celebdf": parse_celebdf,
    "dfdc": parse_dfdc,
    "generic": parse_generic,
    "manifest": parse_manifest,
}


def parse_layout(
    src: str | Path,
    layout: str,
    *,
    splits_dir: str | Path | None = None,
    compression: str = "c23",
    notes: list[str] | None = None,
) -> list[Item]:
    """Items of the dataset at ``src`` read as ``layout``; ``notes`` collects what was left out and why."""
    if layout not in LAYOUTS:
        raise FakelensError(f"unknown layout '{layout}' (known: {', '.join(LAYOUTS)})")
    root = Path(src)
    if not root.exists():
        raise FakelensError("no such folder", root)
    if not root.is_dir():
        raise FakelensError(f"not a folder (expected a {layout} dataset tree)", root)
    notes = [] if notes is None else notes
    if layout == "ffpp":
        items = parse_ffpp(root, splits_dir=splits_dir, compression=compression, notes=notes)
    elif layout == "df40":
        items = parse_df40(root, splits_dir=splits_dir, notes=notes)
    else:
        items = _PARSERS[layout](root, notes=notes)
    if not items:
        raise FakelensError(f"no media found (expected {_EXPECTED[layout]})", root)
    if len({it.video_id for it in items}) != len(items):  # a parser bug, never the user's: fail loudly
        raise FakelensError("two items share a video_id", root)
    return sorted(items, key=lambda it: it.video_id)


_EXPECTED = {
    "ffpp": "original_sequences/youtube/<c23>/videos/*.mp4 and manipulated_sequences/<method>/<c23>/videos/*.mp4",
    "celebdf": "Celeb-real/, YouTube-real/, Celeb-synthesis/ with videos",
    "dfdc": "folders with metadata.json or labels.csv beside their videos",
    "df40": "<method>/[ff|cdf]/... folders of videos or frames",
    "generic": "real/... and fake/<method>/... with images or videos",
    "manifest": "MANIFEST.tsv listing files that are present",
}
