"""FaceForensics++ (with DFD when present) and Celeb-DF v2: the two datasets with official splits."""

from __future__ import annotations

import json
from pathlib import Path

from fakelens.data.layouts.base import (
    FFPP_COMPRESSIONS,
    SPLITS,
    Item,
    _child,
    _listdir,
    _rel_id,
    _stem,
    frame_files,
    media_units,
)
from fakelens.data.splits import split_of
from fakelens.errors import FakelensError
from fakelens.media.kinds import VIDEO_EXTENSIONS

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
                if not isinstance(pairs, list) or not all(isinstance(p, list) for p in pairs):
                    raise TypeError("not a list of lists")  # a dict or string would iterate silently
            except (ValueError, TypeError) as err:
                raise FakelensError(f"expected a JSON list of id pairs ({err})", f) from None
            for vid in (str(v) for pair in pairs for v in pair):
                if out.setdefault(vid, split) != split:  # one video in two splits: a leak
                    raise FakelensError(
                        f"video '{vid}' is listed in both {out[vid]}.json and {split}.json", f
                    )
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
