"""Evaluation protocols as config: which manifest rows train, which select the checkpoint, which test.

Honesty is enforced here rather than left to each user (DeepfakeBench's and DF40's released code
select checkpoints on test data; DeepfakeBench groups FF++ videos by folder name):

- the validation rows are always the *training* selection restricted to split ``val``; a protocol
  cannot name its own validation set, so test data can never pick a checkpoint;
- a test set sharing a file with the training or validation rows is an error, and shared video ids
  (the same video in two splits) are reported;
- video ids are the manifest's own (``fakelens prepare`` makes them unique per dataset and method).

A protocol expands into *folds* (leave-one-method-out has one per method), each with a training
selection and named test sets. Kinds: ``within_dataset``, ``cross_dataset``, ``cross_manipulation``
(leave one method out), DF40's four (``df40_p1`` same domain other forgery families, ``df40_p2``
same families other domain, ``df40_p3`` unseen methods and domains, ``df40_p4`` one-vs-all), and
``custom`` (explicit selections).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fakelens.errors import ConfigError, FakelensError
from fakelens.evaluate.manifest import ManifestRow, read_manifest
from fakelens.yamlconfig import read_config_yaml, validate

# DF40's 40 methods by family (README of YZY-stack/DF40); names normalised by ``_norm``.
DF40_FAMILIES = {
    "FS": "fsgan faceswap simswap inswap inswapper blendface uniface mobileswap e4s facedancer deepfacelab",
    "FR": "fomm facevid2vid fsvid2vid wav2lip mraa oneshot pirender tpsm lia dagan sadtalker mcnet "
    "hyperreenact heygen",
    "EFS": "vqgan stylegan2 stylegan3 styleganxl sd21 ddim ddpm rddm pixart dit ditxl2 sit sitxl2 "
    "midjourney midjourney6 mj whichisreal",
    "FE": "collabdiff e4e stargan starganv2 styleclip",
}
DF40_UNSEEN = (
    "deepfacelab",
    "heygen",
    "whichisreal",
    "midjourney",
    "stargan",
    "starganv2",
    "styleclip",
    "e4e",
    "collabdiff",
)


def _norm(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


_FAMILY_OF = {_norm(m): fam for fam, names in DF40_FAMILIES.items() for m in names.split()}


def family_of(method: str | None) -> str | None:
    """DF40 family (FS, FR, EFS, FE) of a method name, or None when unknown."""
    return _FAMILY_OF.get(_norm(method))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Selection(_Strict):
    """Rows to take. Reals and fakes must both pass ``datasets`` and ``splits``; ``methods`` and
    ``families`` filter fakes only; ``real_datasets`` takes the reals from other datasets (for
    fake-only sets such as entire-face synthesis)."""

    datasets: list[str] | None = None
    methods: list[str] | None = None
    families: list[str] | None = None
    splits: list[str] | None = None
    real_datasets: list[str] | None = None
    reals: bool = True

    def matches(self, row: ManifestRow) -> bool:
        if self.splits is not None and row.split not in self.splits:
            return False
        if row.label == 0:
            wanted = self.real_datasets if self.real_datasets is not None else self.datasets
            return self.reals and (wanted is None or row.dataset in wanted)
        if self.datasets is not None and row.dataset not in self.datasets:
            return False
        if self.methods is not None and _norm(row.method) not in {_norm(m) for m in self.methods}:
            return False
        return self.families is None or family_of(row.method) in self.families

    def with_splits(self, splits: list[str]) -> Selection:
        return self.model_copy(update={"splits": splits})


class Fold(_Strict):
    name: str
    train: Selection
    tests: dict[str, Selection]

    @property
    def val(self) -> Selection:
        return self.train.with_splits(["val"])


class ProtocolConfig(_Strict):
    name: str
    kind: Literal[
        "custom",
        "within_dataset",
        "cross_dataset",
        "cross_manipulation",
        "df40_p1",
        "df40_p2",
        "df40_p3",
        "df40_p4",
    ]
    manifests: list[Path] = Field(min_length=1)  # JSONL/CSV with path,label,dataset,method,video_id,split
    train_datasets: list[str] | None = None
    test_datasets: list[str] | None = None
    methods: list[str] | None = None  # restrict the methods a kind iterates over
    train: Selection | None = None  # custom only
    tests: dict[str, Selection] | None = None  # custom only
    test_split: str = "test"
    num_frames: int = Field(32, ge=1)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ProtocolConfig:
        path = Path(path)
        # base: merged; manifests relative to the file that names them
        raw = read_config_yaml(path, ["manifests"], aliases={"manifest": "manifests"})
        if isinstance(raw.get("manifests"), str):
            raw["manifests"] = [raw["manifests"]]
        return validate(cls, raw, path)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


def load_rows(cfg: ProtocolConfig) -> list[ManifestRow]:
    rows = [r for m in cfg.manifests for r in read_manifest(m)]
    missing = [r for r in rows if r.dataset is None or r.split is None]
    if missing:
        raise FakelensError(
            f"{len(missing)} row(s) lack a 'dataset' or 'split' column (protocols need both; "
            "`fakelens prepare` and `fakelens synth` write them)",
            missing[0].path,
        )
    return rows


def _need(value, field: str, kind: str):
    if not value:
        raise ConfigError(f"{kind} needs '{field}'")
    return value


def expand(cfg: ProtocolConfig, rows: list[ManifestRow]) -> list[Fold]:
    """The folds of a protocol, given the rows it will select from (to list methods)."""
    ts = [cfg.test_split]

    def fake_methods(datasets, families=None, restrict=True) -> list[str]:
        found = {
            r.method
            for r in rows
            if r.label == 1
            and r.method
            and (datasets is None or r.dataset in datasets)
            and (families is None or family_of(r.method) in families)
        }
        chosen = sorted(found, key=_norm)
        if cfg.methods and restrict:
            chosen = [m for m in chosen if _norm(m) in {_norm(x) for x in cfg.methods}]
        return chosen

    kind = cfg.kind
    if kind == "custom":
        train = cfg.train or Selection(splits=["train"])
        if train.splits is None:
            train = train.with_splits(["train"])
        return [Fold(name=cfg.name, train=train, tests=_need(cfg.tests, "tests", kind))]
    if kind in ("within_dataset", "cross_dataset"):
        src = _need(cfg.train_datasets, "train_datasets", kind)
        train = Selection(datasets=src, methods=cfg.methods, splits=["train"])
        tests = {"+".join(src) + " (within)": Selection(datasets=src, methods=cfg.methods, splits=ts)}
        if kind == "cross_dataset":
            for d in _need(cfg.test_datasets, "test_datasets", kind):
                tests[d] = Selection(datasets=[d], splits=ts)
        return [Fold(name=cfg.name, train=train, tests=tests)]
    if kind == "cross_manipulation":
        src = _need(cfg.train_datasets, "train_datasets", kind)
        methods = fake_methods(src)
        if len(methods) < 2:
            raise ConfigError(f"cross_manipulation needs at least 2 fake methods in {src}, found {methods}")
        folds = []
        for m in methods:
            rest = [x for x in methods if x != m]
            tests = {
                f"{m} (unseen)": Selection(datasets=src, methods=[m], splits=ts),
                "seen methods": Selection(datasets=src, methods=rest, splits=ts),
            }
            folds.append(
                Fold(
                    name=f"leave-out-{m}",
                    train=Selection(datasets=src, methods=rest, splits=["train"]),
                    tests=tests,
                )
            )
        return folds
    # DF40: train on the face-swap family of the FF domain
    ff = cfg.train_datasets or ["df40-ff"]
    other = cfg.test_datasets or ["df40-cdf"]
    if kind in ("df40_p1", "df40_p2"):
        train = Selection(datasets=ff, families=["FS"], methods=cfg.methods, splits=["train"])
        domain = ff if kind == "df40_p1" else other
        # a downloaded subset of DF40 may lack a family: test the families it has
        # (`methods` narrows the training face swaps only, never the test sets)
        present = [fam for fam in DF40_FAMILIES if fake_methods(domain, [fam], restrict=False)]
        if not present:
            raise ConfigError(f"{kind} found no DF40 fake methods in {domain}")
        tests = {
            f"{fam} {'+'.join(domain)}": Selection(datasets=domain, families=[fam], splits=ts)
            for fam in present
        }
        return [Fold(name=cfg.name, train=train, tests=tests)]
    if kind == "df40_p3":
        train = Selection(datasets=ff, families=["FS"], splits=["train"])
        if cfg.methods:  # named explicitly: each must be there (materialize says which is not)
            unseen = cfg.methods
        else:
            unseen = [m for m in fake_methods(None) if _norm(m) in {_norm(u) for u in DF40_UNSEEN}]
            if not unseen:
                raise ConfigError(f"df40_p3 found none of DF40's unseen methods ({', '.join(DF40_UNSEEN)})")
        tests = {m: Selection(methods=[m], splits=ts, real_datasets=ff + other) for m in unseen}
        return [Fold(name=cfg.name, train=train, tests=tests)]
    # df40_p4: one-vs-all
    methods = fake_methods(ff)
    folds = []
    for m in methods:
        tests = {x: Selection(datasets=ff, methods=[x], splits=ts) for x in methods if x != m}
        folds.append(
            Fold(name=f"train-{m}", train=Selection(datasets=ff, methods=[m], splits=["train"]), tests=tests)
        )
    if not folds:
        raise ConfigError(f"df40_p4 found no fake methods in {ff}")
    return folds


def _write_rows(rows: list[ManifestRow], path: Path) -> Path:
    with open(path, "w") as fh:
        for r in rows:
            rec = {"path": str(r.path), "label": r.label, "dataset": r.dataset, "method": r.method}
            rec |= {"video_id": r.video_id, "split": r.split}
            rec |= {
                k: v
                for k, v in (("frame", r.frame), ("aligned", r.aligned), ("group", r.group))
                if v is not None
            }
            fh.write(json.dumps(rec) + "\n")
    return path


def materialize(cfg: ProtocolConfig, out: str | Path) -> list[dict]:
    """Write each fold's ``train.jsonl``, ``val.jsonl`` and ``tests/<name>.jsonl``; check honesty.

    Returns one dict per fold: name, manifest paths, row counts and warnings.
    """
    out = Path(out)
    rows = load_rows(cfg)
    plans = []
    for fold in expand(cfg, rows):
        folder = out / safe_name(fold.name)
        (folder / "tests").mkdir(parents=True, exist_ok=True)
        train = [r for r in rows if fold.train.matches(r)]
        val = [r for r in rows if fold.val.matches(r)]
        seen_paths = {r.path for r in train} | {r.path for r in val}
        seen_videos = {r.video_id for r in train + val if r.video_id}
        plan = {
            "fold": fold.name,
            "folder": str(folder),
            "train": str(_write_rows(train, folder / "train.jsonl")),
            "val": str(_write_rows(val, folder / "val.jsonl")),
            "counts": {"train": _count(train), "val": _count(val)},
            "tests": {},
            "warnings": [],
        }
        for name, sel in fold.tests.items():
            chosen = [r for r in rows if sel.matches(r)]
            n_fake = sum(r.label for r in chosen)
            if n_fake == 0 or n_fake == len(chosen):
                have = "no rows" if not chosen else ("only fakes" if n_fake else "only reals")
                raise FakelensError(
                    f"test set '{name}' of fold '{fold.name}' has {have}; AUC needs reals and fakes "
                    "(check its datasets/methods/splits, or give real_datasets)",
                    cfg.manifests[0],
                )
            leaked = [r for r in chosen if r.path in seen_paths]
            if leaked:
                raise FakelensError(
                    f"test set '{name}' of fold '{fold.name}' shares {len(leaked)} file(s) with the "
                    f"training/validation rows, e.g. '{leaked[0].path}'",
                    cfg.manifests[0],
                )
            shared = {r.video_id for r in chosen if r.video_id in seen_videos}
            if shared:
                plan["warnings"].append(
                    f"test set '{name}' shares {len(shared)} video id(s) with training, e.g. {sorted(shared)[0]}"
                )
            path = _write_rows(chosen, folder / "tests" / f"{safe_name(name)}.jsonl")
            plan["tests"][name] = {"manifest": str(path), "counts": _count(chosen)}
        plans.append(plan)
    return plans


def _count(rows: list[ManifestRow]) -> dict:
    return {"real": sum(1 for r in rows if r.label == 0), "fake": sum(r.label for r in rows)}


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "fold"
