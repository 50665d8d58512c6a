"""What a recipe trains and validates on: real faces (folders, or a manifest's label-0 rows),
self-blended fakes of them, and ready-made fakes (``data.fake_dirs``, e.g. GAN faces, and a
manifest's label-1 rows, e.g. a protocol fold's forgeries), all split by *group* with one rule
(``fakelens.data.splits``) and written once to ``splits.json``. Validation is always the training
domain's ``val`` share, never a held-out split; ``ensemble`` reuses it to stack and calibrate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape

from fakelens.data.facecache import FaceSet, build_faceset
from fakelens.data.families import fake_family
from fakelens.data.sbi_dataset import READY_MADE, REAL, SELF_BLEND, SBIPairs, collate_items
from fakelens.data.splits import (
    SplitRule,
    Splits,
    group_of,
    has_subfolders,
    person_groups,
    split_by_group,
    split_folders,
    write_splits,
)
from fakelens.errors import ConfigError
from fakelens.faces.pipeline import FaceConfig
from fakelens.media.kinds import IMAGE_EXTENSIONS
from fakelens.preprocess import Preprocess
from fakelens.train.config import DataSection

console = Console(stderr=True)
VAL_SEEDS = 3  # fixed SBI fakes per validation face: a steadier selection signal


def list_images_by_root(dirs: list[Path], key: str = "data.real_dirs") -> dict[Path, list[Path]]:
    out: dict[Path, list[Path]] = {}
    for d in dirs:
        if not Path(d).is_dir():
            raise ConfigError(f"{key}: '{d}' is not a folder")
        out[Path(d)] = sorted(p for p in Path(d).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not any(out.values()):
        raise ConfigError(f"{key}: no images found in {', '.join(map(str, dirs))}")
    return out


def folder_splits(dirs: list[Path], data: DataSection, rule: SplitRule, key: str) -> Splits:
    """Files of folders split by group: a file directly in a folder is its own group, files in a
    subfolder (frames of one video, photos of one person) share the subfolder's group."""
    by_root = list_images_by_root(dirs, key)
    if data.exclude_groups:
        for root, paths in by_root.items():
            by_root[root] = _without_groups(paths, lambda p, r=root: group_of(p, r), data.exclude_groups, key)
    if data.group_by == "file":
        items = [(p, p.relative_to(root).as_posix()) for root, paths in by_root.items() for p in paths]
        return split_by_group(items, rule)
    if data.group_by == "person":
        items = [item for root, paths in by_root.items() for item in person_groups(paths, root).items()]
        return split_by_group(items, rule)
    nested = has_subfolders(by_root)
    if nested and data.group_by == "auto":
        console.print(
            f"[yellow]warning[/] {key}: {', '.join(escape(str(r)) for r in nested)} hold subfolders "
            "(frame or person folders): files are grouped by their folder, so one folder never spans "
            "train and validation; set data.group_by: folder (or file) to say so"
        )
    return split_folders(by_root, rule)


def manifest_splits(
    manifest: Path,
    val_manifest: Path | None,
    rule: SplitRule,
    framing: str | None = None,
    exclude_groups: Iterable[str] = (),
    resplit: SplitRule | None = None,
    held_out: bool = False,
) -> tuple[Splits, Splits, set[Path]]:
    """Reals and ready-made fakes (label 1 rows: a protocol fold's forgeries) for training and
    validation from manifests, and the rows that are aligned crops in the model's ``framing``.

    Without ``val_manifest`` the manifest's ``split`` column decides (``train``/``val``; any other
    split is never read); rows without one are split by group (``group`` column, else
    ``video_id``, else the file) with ``rule``. With ``val_manifest`` (a protocol fold) the first
    manifest trains and the second selects. Rows of ``exclude_groups`` are left out of both. With
    ``resplit`` every row is assigned by its group with that rule instead of its split column.
    ``held_out``: the ``dev`` and ``final`` rows too (for a benchmark; training never reads them)."""
    from fakelens.data.manifest import read_manifest

    def group(r) -> str:
        return r.group or r.video_id or str(r.path)

    rows = _without_groups(read_manifest(manifest), group, exclude_groups, "data.manifest")
    if resplit is not None:
        rows = _resplit(rows, group, resplit)
    if val_manifest is None:
        loose = sum(1 for r in rows if not (r.split or r.group or r.video_id))
        if loose:
            console.print(
                f"[yellow]warning[/] data.manifest: {loose} rows have no split, group or video_id and are "
                "split file by file: frames of one video or photos of one person may land in train and val"
            )
        pairs = [(r, r.split or rule.assign(group(r))) for r in rows]
        parts = {part: [r for r, s in pairs if s == part] for part in ("train", "val", "dev", "final")}
    else:
        parts = {"train": [r for r in rows if r.split in (None, "train")], "dev": [], "final": []}
        parts["val"] = _without_groups(
            read_manifest(val_manifest), group, exclude_groups, "data.val_manifest"
        )
    if not held_out:
        parts["dev"], parts["final"] = [], []
    read = [r for chosen in parts.values() for r in chosen]
    aligned = {r.path for r in read if framing is not None and r.aligned == framing}

    def splits(label: int) -> Splits:
        out = Splits(rule)
        for part, chosen in parts.items():
            for r in chosen:
                if r.label == label:
                    out.files[part].append(r.path)
                    out.groups[str(r.path)] = group(r)
        return out

    return splits(0), splits(1), aligned


def _resplit(rows: list, group, rule: SplitRule) -> list:
    """Rows re-assigned by group; a fake built from clips of two splits would carry one split's
    people or motion into the other, so it is left out."""
    kept = []
    for r in rows:
        splits = {rule.assign(g) for g in (group(r), *r.source_groups)}
        if len(splits) == 1:
            kept.append(replace(r, split=splits.pop()))
    if len(kept) < len(rows):
        console.print(
            f"data.manifest_split: left out {len(rows) - len(kept)} fakes made from two splits' clips"
        )
    return kept


def _without_groups(rows: list, group, exclude: Iterable[str], key: str) -> list:
    exclude = set(exclude)
    if not exclude:
        return rows

    def groups(r) -> set[str]:  # a synth fake made from two clips (a swap's donor, a driving clip) has two
        return {group(r), *getattr(r, "source_groups", ())}

    kept = [r for r in rows if not groups(r) & exclude]
    found = sorted(set().union(*map(groups, rows)) & exclude)
    if found:
        n = len(rows) - len(kept)
        console.print(f"{key}: left out {n} rows of {len(found)} excluded group(s) ({', '.join(found)})")
    return kept


def _check_group_overlap(s: Splits, what: str) -> None:
    """A group in train and val (possible with a hand-written manifest) is a leak: refuse it."""
    train = {s.groups.get(str(p)) for p in s["train"]}
    both = sorted(g for g in {s.groups.get(str(p)) for p in s["val"]} & train if g)
    if both:
        shown = ", ".join(both[:3]) + (" ..." if len(both) > 3 else "")
        raise ConfigError(f"data: {len(both)} {what} group(s) in both train and val ({shown})")


@dataclass
class TrainingFaces:
    train: FaceSet
    val: FaceSet
    fakes_train: FaceSet | None
    fakes_val: FaceSet | None
    aligned: frozenset[Path] = frozenset()  # files that are crops already (prepare/synth output)


def _only_families(fakes: Splits, families: list[str] | None) -> Splits:
    """``data.fake_families``: the ready-made fakes of those families only (one incremental task)."""
    if families is None:
        return fakes
    wanted = set(families)
    found = {fake_family(p) for paths in fakes.files.values() for p in paths}
    if not wanted & found:
        raise ConfigError(
            f"data.fake_families: no ready-made fakes of {', '.join(sorted(wanted))} "
            f"(the fakes' families: {', '.join(sorted(found)) or 'none'})"
        )
    for part, paths in fakes.files.items():
        fakes.files[part] = [p for p in paths if fake_family(p) in wanted]
    return fakes


def data_splits(
    data: DataSection, framing: str | None = None, held_out: bool = False
) -> tuple[Splits, Splits, set[Path]]:
    """(reals, ready-made fakes, aligned crops) by the recipe's one split rule; a manifest's
    ``dev``/``final`` rows only with ``held_out`` (folders' always: splits.json records them)."""
    reals, fakes, aligned = _data_splits(data, framing, held_out)
    return reals, _only_families(fakes, data.fake_families), aligned


def _data_splits(data: DataSection, framing: str | None, held_out: bool) -> tuple[Splits, Splits, set[Path]]:
    rule = SplitRule(val=data.val_fraction, test=data.test_fraction, salt=data.split_salt)
    fake_rule = SplitRule(val=data.val_fraction, test=data.fake_test_fraction, salt=data.split_salt)
    if data.manifest is not None:
        resplit = data.manifest_split
        resplit_rule = resplit and SplitRule(val=resplit.val, test=resplit.test, salt=resplit.salt)
        reals, fakes, aligned = manifest_splits(
            data.manifest, data.val_manifest, rule, framing, data.exclude_groups, resplit_rule, held_out
        )
        if not data.manifest_fakes:
            fakes = Splits(fake_rule)
        for dirs, key, into, folder_rule in (
            (data.real_dirs, "data.real_dirs", reals, rule),
            (data.fake_dirs, "data.fake_dirs", fakes, fake_rule),
        ):
            if dirs:  # folders beside the manifest: split by their own groups, as without one
                extra = folder_splits(dirs, data, folder_rule, key)
                for part, files in extra.files.items():  # dev/final too: splits.json records them
                    into.files[part] += files
                into.groups |= extra.groups
                into.rule = folder_rule  # the manifest's rows carry their split; the folders follow this
        if data.val_manifest is None:
            _check_group_overlap(reals, "real")
            _check_group_overlap(fakes, "fake")
        return reals, fakes, aligned
    reals = folder_splits(data.real_dirs, data, rule, "data.real_dirs")
    fakes = (
        folder_splits(data.fake_dirs, data, fake_rule, "data.fake_dirs")
        if data.fake_dirs
        else Splits(fake_rule)
    )
    return reals, fakes, set()


def load_faces(
    data: DataSection, face: FaceConfig, out: Path | None = None, refuse_ready_made: str | None = None
) -> TrainingFaces:
    """Split the files by group, write the split once (``out/splits.json``), load (cached) aligned
    faces. Ready-made fakes come from ``data.fake_dirs`` and from a manifest's label-1 rows; a
    method that cannot train on them (``refuse_ready_made`` names it) is refused, never handed
    reals only as if the fakes were not there."""
    reals, fakes, aligned = data_splits(data, face.fingerprint())
    if refuse_ready_made and (fakes["train"] or fakes["val"]):
        where = "the manifest's label-1 rows" if data.manifest else "data.fake_dirs"
        raise ConfigError(
            f"method {refuse_ready_made!r} cannot train on ready-made fakes, and {where} hold "
            f"{len(fakes['train']) + len(fakes['val'])}: choose a method that can, or drop them"
        )
    if data.limit:
        for part in (reals, fakes):
            part.files["train"] = part["train"][: data.limit]
            part.files["val"] = part["val"][: max(data.limit // 4, 2)]
    if not data.sbi and not (fakes["train"] and fakes["val"]):
        raise ConfigError("data: with sbi: false, ready-made fakes are needed for train and val")
    if out is not None:
        sources = [*([str(data.manifest)] if data.manifest else []), *map(str, data.real_dirs)]
        write_splits(out, reals, fakes, source=", ".join(sources))
    sets = {}
    parts = [("train", reals["train"]), ("val", reals["val"])]
    parts += [(f"fakes_{k}", fakes[k]) for k in ("train", "val") if fakes[k]]
    for name, files in parts:
        fs = build_faceset(files, face, data.cache_dir, aligned=aligned)
        for path, reason in fs.skipped:
            console.print(f"[yellow]skipped[/] {name} '{escape(path)}': {escape(reason)}")
        if len(fs) < 2:
            raise ConfigError(f"data: only {len(fs)} usable {name.replace('_', ' ')} faces (need at least 2)")
        sets[name] = fs
    return TrainingFaces(
        sets["train"], sets["val"], sets.get("fakes_train"), sets.get("fakes_val"), frozenset(aligned)
    )


def training_items(faces: TrainingFaces, data: DataSection, pre: Preprocess, seed: int) -> SBIPairs:
    return SBIPairs(
        faces.train,
        pre,
        seed=seed,
        augment=True,
        make_sbi=data.sbi,
        fakes=faces.fakes_train,
        augment_kind=data.augment,
    )


class ValidationImages(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor
    families: np.ndarray  # "real", "self-blend" or the ready-made fake's family (data/families.py)
    sources: (
        np.ndarray
    )  # the source folder of the image's real face (of the fake's own file, for a ready-made one)
    paths: np.ndarray  # the file of the image's real face (of the fake itself, for a ready-made one)


def validation_set(
    faces: TrainingFaces, data: DataSection, pre: Preprocess, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every validation real with its SBI fakes (``VAL_SEEDS`` seeds), and with ready-made fakes a
    (clean real, ready-made fake) pair per item too; without SBI each real and each ready-made fake
    appears once."""
    v = validation_images(faces, data, pre, seed)
    return v.x, v.y


def validation_images(
    faces: TrainingFaces, data: DataSection, pre: Preprocess, seed: int
) -> ValidationImages:
    """:func:`validation_set` plus each image's family and source, for fits that weigh every
    forgery family (and every real source) the same."""
    fake_paths = faces.fakes_val.paths if faces.fakes_val is not None else []
    real_sources = [Path(p).parent.name for p in faces.val.paths]
    if data.sbi:
        sets = [
            SBIPairs(faces.val, pre, seed=seed + 10_007 + k, augment=False, fakes=faces.fakes_val)
            for k in range(VAL_SEEDS)
        ]
        batch = collate_items([vs[i] for vs in sets for i in range(len(vs))])
        names = {REAL: "real", SELF_BLEND: "self-blend"}
        rows = zip(batch["kind"].tolist(), batch["fake_index"].tolist(), batch["index"].tolist(), strict=True)
        families, sources, paths = [], [], []
        for kind, fake, index in rows:
            families.append(names[kind] if kind != READY_MADE else fake_family(fake_paths[fake]))
            sources.append(real_sources[index] if kind != READY_MADE else Path(fake_paths[fake]).parent.name)
            paths.append(str(faces.val.paths[index] if kind != READY_MADE else fake_paths[fake]))
        return ValidationImages(
            batch["image"], batch["label"], np.array(families), np.array(sources), np.array(paths)
        )
    reals = pre.to_tensor(list(faces.val.crops))
    fakes = pre.to_tensor(list(faces.fakes_val.crops))
    x = torch.cat([reals, fakes]).contiguous(memory_format=torch.channels_last)
    families = np.array(["real"] * len(reals) + [fake_family(p) for p in fake_paths])
    sources = np.array(real_sources + [Path(p).parent.name for p in fake_paths])
    paths = np.array([str(p) for p in [*faces.val.paths, *fake_paths]])
    return ValidationImages(
        x, torch.cat([torch.zeros(len(reals)), torch.ones(len(fakes))]), families, sources, paths
    )
