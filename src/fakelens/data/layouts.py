"""Raw deepfake dataset trees -> a flat list of labelled videos (:class:`Item`), one parser per layout.

Labels, splits and video ids come from each dataset's own conventions (official split files, test
lists, metadata) and, only where a dataset has none, from a hash split grouped by source, so that
a real video and the fakes made from it never land in different splits. ``video_id`` is unique
across methods and datasets (``ffpp/Deepfakes/c23/000_003``): DeepfakeBench groups videos by folder
name and merges FF++'s ``000_003`` of four methods into one "video"; grouping here never does.

A unit of media is a video file, a standalone image, or a *frames folder* (the frames of one video):
a folder of images is a frames folder unless it is a layout's class/method/domain folder or is named
like a container (``train``, ``frames``, ``images`` ...), whose images are separate photos.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fakelens.data.splits import split_of
from fakelens.errors import FakelensError
from fakelens.media.kinds import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

LAYOUTS = ("ffpp", "celebdf", "dfdc", "df40", "generic")
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

    @property
    def kind(self) -> str:
        if self.source.is_dir():
            return "frames"
        return "video" if self.source.suffix.lower() in VIDEO_EXTENSIONS else "image"


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
    else:
        items = globals()[f"parse_{layout}"](root, notes=notes)
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
}


# --- shared helpers -------------------------------------------------------------------------------


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


# --- FaceForensics++ ------------------------------------------------------------------------------


def _ffpp_units(seq: Path, compression: str) -> list[Path]:
    """``<seq>/<comp>/videos/*.mp4`` or ``<seq>/<comp>/frames/<id>/*.png``."""
    base = seq / compression
    units = [p for p in _listdir(base / "videos") if p.suffix.lower() in VIDEO_EXTENSIONS]
    units += [p for p in _listdir(base / "frames") if p.is_dir() and frame_files(p)]
    return units


def _ffpp_splits(root: Path, splits_dir: str | Path | None) -> dict[str, str] | None:
    """{'071': 'train', '054': 'train', ...} from the official pair lists, or None when absent."""
    folders = [Path(splits_dir)] if splits_dir is not None else [root / "splits", root]
    for folder in folders:
        files = {s: folder / f"{s}.json" for s in SPLITS}
        if not all(f.is_file() for f in files.values()):
            if splits_dir is not None:
                raise FakelensError(
                    "expected train.json, val.json and test.json (FF++ official splits)", folder
                )
            continue
        out: dict[str, str] = {}
        for split, f in files.items():
            try:
                pairs = json.loads(f.read_text())
                for pair in pairs:
                    for vid in pair:
                        out[str(vid)] = split
            except (ValueError, TypeError) as err:
                raise FakelensError(f"expected a JSON list of id pairs ({err})", f) from None
        return out
    return None


def parse_ffpp(
    root: Path,
    *,
    splits_dir: str | Path | None = None,
    compression: str = "c23",
    notes: list[str] | None = None,
) -> list[Item]:
    """FF++ (and DFD when present): originals, every manipulation method, masks, official splits."""
    if compression not in FFPP_COMPRESSIONS:
        raise FakelensError(
            f"unknown FF++ compression '{compression}' (known: {', '.join(FFPP_COMPRESSIONS)})"
        )
    official = _ffpp_splits(root, splits_dir)
    found: list[tuple[Path, int, str, str, Path | None]] = []  # (unit, label, dataset, method, mask)
    for kind, dataset in (("youtube", "ffpp"), ("actors", "dfd")):
        originals = _ffpp_units(root / "original_sequences" / kind, compression)
        found += [(u, 0, dataset, "original", None) for u in originals]
    for mdir in _listdir(root / "manipulated_sequences"):
        dataset = "dfd" if mdir.name == "DeepFakeDetection" else "ffpp"
        for unit in _ffpp_units(mdir, compression):
            masks = [*(mdir / "masks/videos").glob(f"{unit.stem}.*"), mdir / "masks/frames" / unit.name]
            mask = next((m for m in masks if m.is_file() or frame_files(m)), None)
            found.append((unit, 1, dataset, mdir.name, mask))
    if not found:
        other = [c for c in FFPP_COMPRESSIONS if c != compression and any(root.glob(f"*_sequences/*/{c}"))]
        if other:
            raise FakelensError(
                f"no {compression} videos; found {', '.join(other)} (use --compression)", root
            )
    groups = _linked_groups([_stem(u).split("_") for u, _, dataset, _, _ in found if dataset == "ffpp"])
    items = []
    for unit, label, dataset, method, mask in found:
        stem = _stem(unit)
        target = stem.split("_")[0]
        if dataset == "dfd":
            split = "test"  # DFD is a cross-dataset test set in every protocol; it has no official split
        elif official is not None and target in official:
            split = official[target]
        else:
            split = split_of("ffpp:" + groups[target])
        vid = f"{dataset}/{method}/{compression}/{stem}"
        items.append(Item(unit, label, dataset, method, vid, split, mask, compression))
    return items


def _linked_groups(id_lists: list[list[str]]) -> dict[str, str]:
    """id -> smallest id linked to it (000 <-> 000_003 <-> 003): without official splits a real
    video and every fake made from or into it share a split. Smallest, so adding files never moves one."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a

    for ids in id_lists:
        for other in ids[1:]:
            a, b = find(ids[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        find(ids[0])
    return {a: find(a) for a in parent}


# --- Celeb-DF v2 ----------------------------------------------------------------------------------

_CELEB_FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}


def _celeb_test_list(root: Path) -> dict[str, int]:
    """{'YouTube-real/00170.mp4': 0 (real), ...}. In this file 1 means *real* and 0 fake (the
    reverse of the usual convention; DeepfakeBench flips it with ``int(label) ^ 1``)."""
    f = root / "List_of_testing_videos.txt"
    if not f.is_file():
        return {}
    out = {}
    for lineno, line in enumerate(f.read_text().splitlines(), start=1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise FakelensError(f"line {lineno}: expected '<1 real|0 fake> <folder>/<video>'", f)
        out[parts[1].strip().replace("\\", "/").lower()] = 1 - int(parts[0])
    return out


def _celeb_group(folder: str, stem: str) -> str:
    """Identity key: ``id0_0000`` and ``id0_id16_0000`` (a fake made on id0's video) -> ``id0``."""
    if folder == "YouTube-real":
        return f"yt{stem}"
    return stem.split("_")[0]


def parse_celebdf(root: Path, *, notes: list[str] | None = None) -> list[Item]:
    """Listed test videos -> test; the rest -> train/val by identity (one identity, one split)."""
    tests = _celeb_test_list(root)
    matched: set[str] = set()
    items = []
    for name, label in _CELEB_FOLDERS.items():
        folder = _child(root, name)
        if folder is None:
            continue
        for unit in media_units(folder, lambda p, f=folder: p == f):
            keys = (f"{name}/{unit.relative_to(folder).as_posix()}".lower(), f"{name}/{unit.name}".lower())
            key = next((k for k in keys if k in tests), None)
            if key is not None:
                if tests[key] != label:
                    listed = "fake" if tests[key] else "real"
                    raise FakelensError(
                        f"'{key}' is listed as {listed} but sits in {name}/",
                        root / "List_of_testing_videos.txt",
                    )
                matched.add(key)
                split = "test"
            else:
                split = split_of("celebdf:" + _celeb_group(name, _stem(unit)), val=0.1, test=0.0)
            vid = f"celebdf/{name}/{_rel_id(unit, folder)}"
            items.append(Item(unit, label, "celebdf", name, vid, split))
    if len(matched) < len(tests) and notes is not None:
        notes.append(
            f"celebdf: {len(tests) - len(matched)} video(s) of List_of_testing_videos.txt are missing"
        )
    return items


# --- DFDC -----------------------------------------------------------------------------------------


def _dfdc_labels(folder: Path) -> dict[str, dict]:
    """name -> {'label': 0|1, 'split': str|None, 'original': str|None} from metadata.json / labels.csv."""
    out: dict[str, dict] = {}
    meta = folder / "metadata.json"
    if meta.is_file():
        try:
            data = json.loads(meta.read_text())
            for name, info in data.items():
                label = {"FAKE": 1, "REAL": 0}[str(info["label"]).upper()]
                split = _SPLIT_NAMES.get(str(info.get("split") or "").lower())
                out[name] = {"label": label, "split": split, "original": info.get("original")}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise FakelensError(
                f"expected {{'x.mp4': {{'label': 'FAKE'|'REAL', ...}}}} ({err})", meta
            ) from None
    labels = folder / "labels.csv"
    if labels.is_file():
        with labels.open(newline="") as fp:
            for lineno, row in enumerate(csv.DictReader(fp), start=2):
                try:
                    name, label = row["filename"].strip(), int(float(row["label"]))
                except (KeyError, ValueError, AttributeError):
                    raise FakelensError(f"line {lineno}: expected columns filename,label", labels) from None
                out[name] = {"label": int(label >= 1), "split": "test", "original": None}
    return out


def parse_dfdc(root: Path, *, notes: list[str] | None = None) -> list[Item]:
    """Every folder with metadata.json or labels.csv; its listed files are found anywhere beneath it."""
    items: dict[str, Item] = {}
    missing = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "metadata.json" not in filenames and "labels.csv" not in filenames:
            continue
        folder = Path(dirpath)
        labels = _dfdc_labels(folder)
        present = {p.name: p for p in media_units(folder, lambda p: True) if p.is_file()}
        for name, info in labels.items():
            path = present.get(name)
            if path is None:
                missing += 1
                continue
            stem = Path(name).stem
            group = Path(info["original"]).stem if info["label"] and info["original"] else stem
            split = info["split"] or split_of("dfdc:" + group)
            method = "dfdc" if info["label"] else "real"
            items[stem] = Item(path, info["label"], "dfdc", method, f"dfdc/{stem}", split)
    if missing and notes is not None:
        notes.append(f"dfdc: {missing} listed file(s) are not present under {root}")
    return list(items.values())


# --- DF40 -----------------------------------------------------------------------------------------


def _source_group(stem: str) -> str:
    """FF++ ``000_003`` / ``000`` -> ``000``; Celeb-DF ``id0_id1_0000`` -> ``id0``; else the stem."""
    m = re.match(r"^(\d{3})(_\d{3})?$", stem) or re.match(r"^(id\d+)_", stem)
    return m.group(1) if m else stem


def parse_df40(root: Path, *, notes: list[str] | None = None) -> list[Item]:
    """``<method>/[ff|cdf]/...``; real-named folders are real; split from a path part, else by source."""
    items = []
    for mdir in _listdir(root):
        if not mdir.is_dir():
            continue
        label = 0 if mdir.name.lower() in _REAL_NAMES else 1
        for unit in media_units(mdir, lambda p, m=mdir: p.parent == m and p.name.lower() in ("ff", "cdf")):
            parts = unit.relative_to(mdir).parts
            domain = next((p.lower() for p in parts[:-1] if p.lower() in ("ff", "cdf")), None)
            dataset = f"df40-{domain}" if domain else "df40"
            split = _split_component(parts[:-1]) or split_of(f"{dataset}:{_source_group(_stem(unit))}")
            vid = f"df40/{_rel_id(unit, root)}"
            items.append(Item(unit, label, dataset, mdir.name, vid, split))
    return items


# --- generic --------------------------------------------------------------------------------------


def _class_dirs(root: Path) -> list[tuple[Path, int]]:
    """Folders named real/fake (any case) at the top or under split folders, not nested in each other."""
    out = []
    for p in _listdir(root):
        if not p.is_dir():
            continue
        if p.name.lower() in ("real", "fake"):
            out.append((p, int(p.name.lower() == "fake")))
        elif p.name.lower() in _SPLIT_NAMES:
            out += _class_dirs(p)
    return out


def parse_generic(root: Path, *, notes: list[str] | None = None) -> list[Item]:
    """``real/...`` and ``fake/<method>/...``; split from a train/val/test part, else hashed by video.

    Images directly in ``real/``, ``fake/<method>/`` (or a split folder) are separate photos; a
    deeper folder of images is the frames of one video. ``dataset`` is the SRC folder's name.
    """
    dataset = re.sub(r"[^A-Za-z0-9._-]+", "_", root.resolve().name) or "generic"
    items = []
    for cls, label in _class_dirs(root):

        def named(p: Path, cls=cls) -> list[str]:
            return [x for x in p.relative_to(cls).parts if x.lower() not in _SPLIT_NAMES]

        def is_container(p: Path, label=label) -> bool:
            return len(named(p)) <= label  # fake/<method>/ holds photos; real/ itself does

        for unit in media_units(cls, is_container):
            dirs = named(unit)[:-1]
            method = (dirs[0] if dirs else "fake") if label else "real"
            rel = _rel_id(unit, root)
            split = _split_component(unit.relative_to(root).parts[:-1]) or split_of(f"{dataset}:{rel}")
            items.append(Item(unit, label, dataset, method, f"{dataset}/{rel}", split))
    return items
