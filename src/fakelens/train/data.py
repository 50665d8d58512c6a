"""What a recipe trains and validates on: real faces (folders split by name hash, or a manifest's
``split`` column), self-blended fakes of them, and ready-made fakes (``data.fake_dirs``, e.g. GAN
faces) split the same way. Validation is always the training domain's ``val`` share, never a test set;
``ensemble`` reuses the same validation set to stack and calibrate members."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape

from fakelens.data.facecache import FaceSet, build_faceset
from fakelens.data.sbi_dataset import SBIPairs, collate_pairs
from fakelens.data.splits import split_files
from fakelens.errors import ConfigError
from fakelens.faces.pipeline import FaceConfig
from fakelens.media.kinds import IMAGE_EXTENSIONS
from fakelens.models.detector import Preprocess
from fakelens.train.config import DataSection

console = Console(stderr=True)
VAL_SEEDS = 3  # fixed SBI fakes per validation face: a steadier selection signal


def list_images(dirs: list[Path], key: str = "data.real_dirs") -> list[Path]:
    files = []
    for d in dirs:
        if not Path(d).is_dir():
            raise ConfigError(f"{key}: '{d}' is not a folder")
        files += [p for p in Path(d).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ConfigError(f"{key}: no images found in {', '.join(map(str, dirs))}")
    return sorted(files)


def manifest_splits(
    manifest: Path, val_manifest: Path | None, framing: str | None = None
) -> tuple[dict[str, list[Path]], set[Path]]:
    """Real training/validation files from manifests (label 0; fakes are made by self-blending),
    and those of them that are aligned crops in the ``framing`` the model uses (used as they are)."""
    from fakelens.evaluate.manifest import read_manifest

    rows = read_manifest(manifest)
    if val_manifest is None:
        train = [r for r in rows if r.label == 0 and r.split == "train"]
        val = [r for r in rows if r.label == 0 and r.split == "val"]
    else:  # a protocol fold: the training manifest trains, the fold's val manifest selects
        train = [r for r in rows if r.label == 0 and r.split in (None, "train")]
        val = [r for r in read_manifest(val_manifest) if r.label == 0]
    aligned = {r.path for r in train + val if framing is not None and r.aligned == framing}
    return {"train": [r.path for r in train], "val": [r.path for r in val], "test": []}, aligned


def fake_splits(data: DataSection) -> dict[str, list[Path]]:
    """Ready-made fakes split by file name; ``test`` is left for benchmarks."""
    if not data.fake_dirs:
        return {"train": [], "val": [], "test": []}
    files = list_images(data.fake_dirs, "data.fake_dirs")
    return split_files(files, data.val_fraction, data.fake_test_fraction, data.split_salt)


@dataclass
class TrainingFaces:
    train: FaceSet
    val: FaceSet
    fakes_train: FaceSet | None
    fakes_val: FaceSet | None


def load_faces(data: DataSection, face: FaceConfig, out: Path | None = None) -> TrainingFaces:
    """Split the files, write the split (``out/splits.json``), load (cached) aligned faces."""
    aligned: set[Path] = set()
    if data.manifest is not None:
        splits, aligned = manifest_splits(data.manifest, data.val_manifest, face.fingerprint())
    else:
        splits = split_files(
            list_images(data.real_dirs), data.val_fraction, data.test_fraction, data.split_salt
        )
    fakes = fake_splits(data)
    if data.limit:
        for part in (splits, fakes):
            part["train"] = part["train"][: data.limit]
            part["val"] = part["val"][: max(data.limit // 4, 2)]
    if out is not None:
        record = {k: [str(p) for p in v] for k, v in splits.items()}
        record |= {f"fakes_{k}": [str(p) for p in v] for k, v in fakes.items()}
        (out / "splits.json").write_text(json.dumps(record, indent=1))
    sets = {}
    for name, files in [("train", splits["train"]), ("val", splits["val"])] + [
        (f"fakes_{k}", fakes[k]) for k in ("train", "val") if data.fake_dirs
    ]:
        fs = build_faceset(files, face, data.cache_dir, aligned=aligned)
        for path, reason in fs.skipped:
            console.print(f"[yellow]skipped[/] {name} '{escape(path)}': {escape(reason)}")
        if len(fs) < 2:
            raise ConfigError(f"data: only {len(fs)} usable {name.replace('_', ' ')} faces (need at least 2)")
        sets[name] = fs
    return TrainingFaces(sets["train"], sets["val"], sets.get("fakes_train"), sets.get("fakes_val"))


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


def validation_set(
    faces: TrainingFaces, data: DataSection, pre: Preprocess, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every validation real with its SBI fakes (``VAL_SEEDS`` seeds), and with ready-made fakes a
    (clean real, ready-made fake) pair per item too; without SBI each real and each ready-made fake
    appears once."""
    if data.sbi:
        sets = [
            SBIPairs(faces.val, pre, seed=seed + 10_007 + k, augment=False, fakes=faces.fakes_val)
            for k in range(VAL_SEEDS)
        ]
        x, y, _ = collate_pairs([vs[i] for vs in sets for i in range(len(vs))])
        return x, y
    reals = pre.to_tensor(list(faces.val.crops))
    fakes = pre.to_tensor(list(faces.fakes_val.crops))
    x = torch.cat([reals, fakes]).contiguous(memory_format=torch.channels_last)
    return x, torch.cat([torch.zeros(len(reals)), torch.ones(len(fakes))])
