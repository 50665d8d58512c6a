"""DFDC (metadata.json / labels.csv), DF40-style method folders and a generic real/ fake/ tree."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from fakelens.data.layouts.base import (
    _REAL_NAMES,
    _SPLIT_NAMES,
    Item,
    _listdir,
    _rel_id,
    _split_component,
    _stem,
    media_units,
)
from fakelens.data.layouts.ffpp import _ffpp_splits
from fakelens.data.splits import split_of
from fakelens.errors import FakelensError

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
            split = info["split"]
            if split in (None, "train"):  # DFDC's training parts are all "train": carve a val split
                split = split_of("dfdc:" + group, test=0.0 if split else 0.2)  # (by original video)
            method = "dfdc" if info["label"] else "real"
            items[stem] = Item(path, info["label"], "dfdc", method, f"dfdc/{stem}", split)
    if missing and notes is not None:
        notes.append(f"dfdc: {missing} listed file(s) are not present under {root}")
    return list(items.values())


# --- DF40 -----------------------------------------------------------------------------------------


_FF_ID = re.compile(r"^(\d{3})(_\d{3})?$")  # FF++ video names: target[_source]


def _source_group(stem: str) -> str:
    """FF++ ``000_003`` / ``000`` -> ``000``; Celeb-DF ``id0_id1_0000`` -> ``id0``; else the stem."""
    m = _FF_ID.match(stem) or re.match(r"^(id\d+)_", stem)
    return m.group(1) if m else stem


def parse_df40(
    root: Path, *, splits_dir: str | Path | None = None, notes: list[str] | None = None
) -> list[Item]:
    """``<method>/[ff|cdf]/...``; real-named folders are real; split from a path part, else (FF
    domain) from FF++'s official pair lists when given (as DF40 does), else hashed by source video.

    The hash groups ``000_003`` with ``000`` (the target video) only: without the official lists,
    identity ``003``'s own real video may fall in another split than this fake showing its face."""
    official = _ffpp_splits(root, splits_dir)
    items = []
    for mdir in _listdir(root):
        if not mdir.is_dir():
            continue
        label = 0 if mdir.name.lower() in _REAL_NAMES else 1
        for unit in media_units(mdir, lambda p, m=mdir: p.parent == m and p.name.lower() in ("ff", "cdf")):
            parts = unit.relative_to(mdir).parts
            domain = next((p.lower() for p in parts[:-1] if p.lower() in ("ff", "cdf")), None)
            dataset = f"df40-{domain}" if domain else "df40"
            stem = _stem(unit)
            split = _split_component(parts[:-1])
            if split is None and official is not None and dataset == "df40-ff" and _FF_ID.match(stem):
                split = official.get(stem[:3])
            split = split or split_of(f"{dataset}:{_source_group(stem)}")
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
