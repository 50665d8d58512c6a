"""Deterministic splits keyed by a **group** (a person, a source video, a collection), never by a
bare file name: frames ``vid0/0001.png`` and ``vid1/0001.png`` belong to two videos, and every frame
of one video lands in the same split. A group's split is a hash of its key, so it never changes when
files are added, removed or listed in another order.

Shares: ``test`` of hash space is held out from training and split again, with a second salt, into
``dev`` (benchmarks report on it and recipe choices may look at it) and ``final`` (read by nothing
but a final report: no recipe, checkpoint or threshold choice may use it); ``val`` selects
checkpoints; the rest trains. Until 2026-12 the whole held-out share was called ``test`` and recipe
choices were made on it: ``final`` is half of that old share, so figures of models chosen before then
are not pristine on it (their model cards say so).

Training writes the result once to ``splits.json`` (:func:`write_splits`); benchmarks, protocols and
tests read it (:func:`read_splits`) instead of re-deriving it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fakelens.errors import ConfigError, FakelensError

SPLITS = ("train", "val", "dev", "final")
FINAL_SALT = "fakelens-final-2026-12"
SPLITS_FILE = "splits.json"


def _unit(key: str, salt: str) -> float:
    digest = hashlib.sha1(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str, val: float = 0.1, test: float = 0.2, salt: str = "fakelens") -> str:
    """'test' for the first ``test`` fraction of hash space, then 'val', else 'train' (a dataset's
    own three-way split, as ``fakelens prepare`` writes it)."""
    u = _unit(key, salt)
    if u < test:
        return "test"
    if u < test + val:
        return "val"
    return "train"


@dataclass(frozen=True)
class SplitRule:
    """How groups are assigned; recorded in ``splits.json`` so a reader can apply the same rule to
    data the training run never listed (e.g. another dataset's people)."""

    val: float = 0.1
    test: float = 0.2  # held-out share of hash space: dev + final
    final_share: float = 0.5  # of the held-out share, read only by final reports
    salt: str = "fakelens"
    final_salt: str = FINAL_SALT

    def assign(self, group: str) -> str:
        """'train', 'val', 'dev' or 'final' for a group key."""
        split = split_of(group, self.val, self.test, self.salt)
        if split != "test":
            return split
        return "final" if _unit(group, self.final_salt) < self.final_share else "dev"


def group_of(path: Path, root: Path) -> str:
    """The group of a file found under ``root``: a file directly in ``root`` is its own group, keyed
    by its name (as before groups existed, so flat folders keep their splits); a file in a subfolder
    belongs to that subfolder's group (frames of one video, photos of one person), keyed by the
    subfolder path relative to ``root``."""
    try:
        rel = Path(path).relative_to(root)
    except ValueError:  # not under root (a resolved link): its own group
        return Path(path).name
    return rel.name if len(rel.parts) == 1 else rel.parent.as_posix()


_PHOTO_NUMBER = re.compile(r"[_\-\s]*\d{1,4}$")


def person_groups(paths: list[Path], root: Path) -> dict[Path, str]:
    """Groups for a folder of several people's photos, from file names: a file's folder plus its name
    without a trailing photo number of up to 4 digits (LFW's ``Aaron_Peirsol_0001`` and ``_0002``, a
    film still's ``HrithikRoshan_3``). A name shared by more than 15 % of its folder's files (and
    more than 20) is a counter, not a person (``ffhq_0``, ``File_12``): those files, like names that
    are only a number or end in a longer one (UTKFace's timestamps), are each their own group."""
    rel = {}
    for p in paths:
        try:
            rel[p] = Path(p).relative_to(root)
        except ValueError:  # not under root (a resolved link)
            rel[p] = Path(Path(p).name)
    stems = {p: (r.parent / _PHOTO_NUMBER.sub("", r.name.split(".")[0])).as_posix() for p, r in rel.items()}
    per_folder = Counter(r.parent.as_posix() for r in rel.values())
    shared = Counter(stems.values())
    out = {}
    for p, stem in stems.items():
        r = rel[p]
        counter = shared[stem] > max(20, 0.15 * per_folder[r.parent.as_posix()])
        named = Path(stem).name != ""
        out[p] = stem if named and not counter else r.as_posix()
    return out


@dataclass
class Splits:
    """Files per split, and the group and rule behind each assignment."""

    rule: SplitRule = field(default_factory=SplitRule)
    files: dict[str, list[Path]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    groups: dict[str, str] = field(default_factory=dict)  # file -> group

    def __getitem__(self, split: str) -> list[Path]:
        return self.files[split]

    def group_counts(self) -> dict[str, int]:
        by_split: dict[str, set[str]] = {s: set() for s in SPLITS}
        for split, paths in self.files.items():
            by_split[split] |= {self.groups.get(str(p), str(p)) for p in paths}
        return {s: len(g) for s, g in by_split.items()}


def split_by_group(items: Iterable[tuple[Path, str]], rule: SplitRule | None = None) -> Splits:
    """Assign ``(file, group)`` pairs; every file of a group gets the group's split."""
    rule = rule or SplitRule()
    out = Splits(rule)
    for path, group in sorted(items, key=lambda item: str(item[0])):
        out.files[rule.assign(group)].append(Path(path))
        out.groups[str(path)] = group
    return out


def split_folders(paths_by_root: dict[Path, list[Path]], rule: SplitRule | None = None) -> Splits:
    """Split files found under folders, grouped by :func:`group_of`."""
    items = [(p, group_of(p, root)) for root, paths in paths_by_root.items() for p in paths]
    return split_by_group(items, rule)


def split_files(
    paths: list[Path], val: float = 0.1, test: float = 0.2, salt: str = "fakelens"
) -> dict[str, list[Path]]:
    """Files that are each their own group (a flat folder of photos), keyed by name; kept for
    callers that list one flat folder: {'train', 'val', 'dev', 'final'}."""
    rule = SplitRule(val=val, test=test, salt=salt)
    return split_by_group(((Path(p), Path(p).name) for p in paths), rule).files


def has_subfolders(paths_by_root: dict[Path, list[Path]]) -> list[Path]:
    """Roots whose files sit in subfolders (frame folders, person folders)."""
    return [
        root
        for root, paths in paths_by_root.items()
        if any(len(p.relative_to(root).parts) > 1 for p in paths)
    ]


# ---- splits.json: written once by training, read by everyone else ----


def splits_record(reals: Splits, fakes: Splits | None = None, source: str = "") -> dict:
    def part(s: Splits) -> dict:
        return {k: [str(p) for p in v] for k, v in s.files.items()}

    record = {
        "format": "fakelens-splits-2",
        "source": source,
        "rule": asdict(reals.rule),
        "reals": part(reals),
    }
    record["groups"] = dict(reals.groups)
    if fakes is not None:
        record["fakes"] = part(fakes)
        record["fake_rule"] = asdict(fakes.rule)
        record["groups"] |= fakes.groups
    return record


def write_splits(folder: Path, reals: Splits, fakes: Splits | None = None, source: str = "") -> Path:
    path = Path(folder) / SPLITS_FILE
    path.write_text(json.dumps(splits_record(reals, fakes, source), indent=1) + "\n")
    return path


@dataclass
class SplitsFile:
    """A ``splits.json`` as read back: files per split for reals and fakes, and the rules."""

    path: Path
    reals: dict[str, list[Path]]
    fakes: dict[str, list[Path]]
    rule: SplitRule
    fake_rule: SplitRule | None

    def files(self, split: str, kind: str = "reals") -> list[Path]:
        if split not in SPLITS:
            raise FakelensError(f"unknown split '{split}' (one of {', '.join(SPLITS)})", self.path)
        return list((self.reals if kind == "reals" else self.fakes).get(split, []))


def read_splits(path: Path, data_root: Path | None = None) -> SplitsFile:
    """Read ``splits.json`` (a file or the folder holding it); relative paths join ``data_root``."""
    path = Path(path)
    if path.is_dir():
        path = path / SPLITS_FILE
    if not path.is_file():
        raise ConfigError("no splits.json here (written by `fakelens train`)", path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"not valid JSON ({err.msg})", path) from None
    if raw.get("format") != "fakelens-splits-2":
        raise ConfigError(
            "an old or unknown splits.json format (retrain or rerun scripts/ship_model.py)", path
        )

    def paths(part: dict) -> dict[str, list[Path]]:
        out = {k: [_reroot(Path(p), data_root) for p in v] for k, v in (part or {}).items()}
        if data_root is None and any(not p.is_absolute() for v in out.values() for p in v):
            raise ConfigError(
                "lists paths relative to a data folder (a shipped model's splits): give the data folder "
                "(e.g. ../shared/data) to read it",
                path,
            )
        return out

    fake_rule = raw.get("fake_rule")
    return SplitsFile(
        path,
        paths(raw.get("reals")),
        paths(raw.get("fakes")),
        SplitRule(**raw["rule"]),
        SplitRule(**fake_rule) if fake_rule else None,
    )


def _reroot(p: Path, data_root: Path | None) -> Path:
    """Relative entries (a shipped model's splits, written relative to the data folder by
    ``scripts/ship_model.py``) join ``data_root``; absolute ones are kept."""
    return p if p.is_absolute() or data_root is None else Path(data_root) / p


def relative_record(record: dict, data_root: Path) -> dict:
    """A splits record with every path under ``data_root`` written relative to it (for shipping).
    Files elsewhere (frames a recipe made with ``prepare``/``synth`` on the trainer's machine) mean
    nothing on another machine: they are left out of the lists, and ``elsewhere`` keeps how many
    there were per split and which groups each split held, so the split rule stays on record."""
    root = Path(data_root).resolve()
    groups = record.get("groups", {})
    elsewhere: dict = {}

    def rel(p: str) -> str | None:
        q = Path(p).resolve()
        return q.relative_to(root).as_posix() if q.is_relative_to(root) else None

    out = dict(record)
    for part in ("reals", "fakes"):
        if part not in out:
            continue
        kept = {}
        for split, paths in out[part].items():
            pairs = [(p, rel(p)) for p in paths]
            kept[split] = [r for _, r in pairs if r is not None]
            gone = [p for p, r in pairs if r is None]
            if gone:
                entry = elsewhere.setdefault(part, {})
                entry[split] = {
                    "files": len(gone),
                    "groups": sorted({groups.get(p, "") for p in gone} - {""}),
                }
        out[part] = kept
    out["groups"] = {r: g for k, g in groups.items() if (r := rel(k)) is not None}
    # the sources as their paths under the data folder, else their folder's name (no machine paths)
    sources = [s.strip() for s in str(record.get("source", "")).split(",") if s.strip()]
    out["source"] = ", ".join(rel(s) or Path(s).parent.name + "/" + Path(s).name for s in sources)
    if elsewhere:
        out["elsewhere"] = elsewhere
    return out


def checkpoint_splits(checkpoint: Path, data_root: Path | None = None) -> SplitsFile:
    """The splits a checkpoint was trained under: ``splits.json`` beside its weights (shipped models)
    or in its run folder (``runs/NAME/model`` -> ``runs/NAME/splits.json``)."""
    checkpoint = Path(checkpoint)
    for folder in (checkpoint, checkpoint.parent):
        if (folder / SPLITS_FILE).is_file():
            return read_splits(folder, data_root)
    raise ConfigError("no splits.json beside the checkpoint or in its run folder", checkpoint)
