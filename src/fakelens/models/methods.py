"""Training methods: how a batch becomes a loss, registered by name (``method:`` in a recipe).

A method lives in its family's file next to the network it was published with (models/acmf.py holds
ACMF's masked frequency, its Grad-CAM and its training), registered by decorator with its options
(a pydantic model that refuses unknown keys) and the architectures it can train::

    @register_method("acmf", options=AcmfOptions, requires=("forward_features", "forward_head"))
    class ACMF(Method): ...

A recipe names the method and its options in one section, checked when the recipe is read::

    method: {name: acmf, drop: [0.1, 0.5], stage1_epochs: 3}

Built-in methods are indexed by module (``_INDEX``) and imported on first use, like the model
registry, so one family's failing import never breaks the others; a method defined anywhere else
registers itself when its module is imported. Methods read batches as dicts (``image``, ``label``,
``kind`` 0 real / 1 self-blend / 2 ready-made, ``index`` of the item, ``variant`` of a fixed fake or
-1), never the dataset's internals, and keep their resume state as tensors (``state_dict``).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# built-in method -> the module that registers it (imported on first use)
_INDEX: dict[str, str] = {
    "plain": "fakelens.models.methods",
    "acmf": "fakelens.models.acmf",
    "lsda": "fakelens.models.lsda",
    "fidelity": "fakelens.models.deepfidelity",
    "hierarchical": "fakelens.models.hfc_mffd",
    "quality": "fakelens.models.quality",
    "incremental": "fakelens.models.incremental",
    "linear-probe": "fakelens.models.methods",
}
_METHODS: dict[str, type[Method]] = {}


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Method:
    """The hooks the training loop calls; a method overrides what it needs (``loss`` at least)."""

    name: ClassVar[str] = ""
    options: ClassVar[type[BaseModel]] = NoOptions
    architectures: ClassVar[tuple[str, ...]] = ("*",)  # shell patterns of the architectures it trains
    requires: ClassVar[tuple[str, ...]] = ()  # attributes the architecture's class must have
    needs_sbi: ClassVar[bool] = False  # it works on self-blended fakes (data.sbi: true)
    # it can train on ready-made fakes (data.fake_dirs, a manifest's label-1 rows: a protocol fold's
    # forgeries); one that cannot is refused before training rather than silently ignoring them
    ready_made_fakes: ClassVar[bool] = True
    # fitted in closed form on frozen features (train/probe.py), not by the loop's gradient steps
    fitted_head: ClassVar[bool] = False
    # it can train in several processes (train/distributed.py): its loss calls the model only through
    # forward (DDP synchronises gradients there) and it keeps no per-item state that one process's
    # share of the batches would leave incomplete
    multi_process: ClassVar[bool] = True
    # continued on a new task (--continue-from), it adds a head for it (models/incremental.py)
    grows_heads: ClassVar[bool] = False

    def __init__(self, options: BaseModel | None = None, seed: int = 0, epochs: int = 1):
        self.opts = options if options is not None else self.options()
        self.seed = seed
        self.epochs = epochs

    def start_epoch(self, epoch: int, model: torch.nn.Module, dataset) -> None:
        """Called before each epoch (also the first after a resume, with the state loaded)."""

    def order(self, epoch: int, n: int) -> list[int] | None:
        """The epoch's item order (a curriculum); None: a plain seeded shuffle."""
        return None

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch's training steps, before ``state_dict`` is saved."""

    def attach_previous(self, previous) -> None:
        """A continued run (``--continue-from``): the model it continues (train/continual.py)."""

    def after_training(
        self, model_dir, model: torch.nn.Module, items, task: str, aligned=frozenset()
    ) -> None:
        """Called once after the last epoch with the selected checkpoint's folder (its memory)."""

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError(f"method {self.name!r} defines no loss")

    def report(self) -> dict:
        """What the checkpoint's config.json records about the method (``training.method``)."""
        return {"name": self.name, **self.opts.model_dump(mode="json")}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors a resumed run needs to continue exactly (written to ``last/method.safetensors``)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            raise ValueError(
                f"method {self.name!r} keeps no state, but the run folder holds {sorted(state)[0]}"
            )


def register_method(
    name: str,
    *,
    options: type[BaseModel] | None = None,
    architectures: tuple[str, ...] | None = None,
    requires: tuple[str, ...] | None = None,
    needs_sbi: bool | None = None,
    ready_made_fakes: bool | None = None,
):
    """Class decorator: register a ``Method`` subclass under ``name`` with its options model and the
    architectures it trains (shell patterns, and/or attributes their classes must have)."""

    def deco(cls: type[Method]) -> type[Method]:
        old = _METHODS.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"method {name!r} is registered twice ({old.__module__} and {cls.__module__})")
        cls.name = name
        for attr, value in [
            ("options", options),
            ("architectures", architectures),
            ("requires", requires),
            ("needs_sbi", needs_sbi),
            ("ready_made_fakes", ready_made_fakes),
        ]:
            if value is not None:
                setattr(cls, attr, value)
        if cls.options.model_config.get("extra") != "forbid":
            raise ValueError(f"method {name!r}: its options model must refuse unknown keys (extra='forbid')")
        _METHODS[name] = cls
        return cls

    return deco


def list_methods() -> list[str]:
    return sorted(set(_INDEX) | set(_METHODS))


def get_method(name: str) -> type[Method]:
    """The registered class (importing its built-in module on first use)."""
    if name not in _METHODS and name in _INDEX:
        importlib.import_module(_INDEX[name])
        if name not in _METHODS:
            raise RuntimeError(f"{_INDEX[name]} does not register method {name!r}")
    if name not in _METHODS:
        close = difflib.get_close_matches(name, list_methods(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"method.name: unknown method {name!r} ({hint}known: {', '.join(list_methods())})")
    return _METHODS[name]


def unsupported(cls: type[Method], architecture: str, model_kwargs: dict | None = None) -> str | None:
    """Why ``cls`` cannot train ``architecture``, or None when it can. Attributes it requires are
    looked up on the model built on the meta device (no weights are allocated: a fraction of a second)."""
    if not any(fnmatch.fnmatch(architecture, p) for p in cls.architectures):
        return f"it trains {', '.join(cls.architectures)} only"
    if cls.requires:
        from fakelens.models.registry import create_model

        try:
            with torch.device("meta"):
                model = create_model(architecture, pretrained=False, **(model_kwargs or {}))
        except (TypeError, ValueError) as err:
            return f"the model could not be built to check it ({' '.join(str(err).split())})"
        missing = [a for a in cls.requires if not hasattr(model, a)]
        if missing:
            return f"it needs the model's {', '.join(missing)}, which {type(model).__name__} lacks"
    return None


def resolve_method(
    name: str, options: dict, architecture: str, sbi: bool = True, model_kwargs: dict | None = None
) -> tuple[type[Method], BaseModel]:
    """The method class and its validated options; every problem is a one-line ValueError naming the
    recipe key (``method.<option>``, ``method.name``)."""
    cls = get_method(name)
    try:
        opts = cls.options.model_validate(options)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        known = ", ".join(cls.options.model_fields) or "none"
        if first["type"] == "extra_forbidden":
            raise ValueError(
                f"method.{where}: not an option of method {name!r} (its options: {known})"
            ) from None
        raise ValueError(f"method.{where}: {first['msg']}") from None
    reason = unsupported(cls, architecture, model_kwargs)
    if reason:
        raise ValueError(f"method.name: {name!r} cannot train model.architecture {architecture!r}: {reason}")
    if cls.needs_sbi and not sbi:
        raise ValueError(f"method.name: {name!r} works on self-blended fakes; set data.sbi: true")
    if cls.fitted_head and sbi:  # it fits once on fixed features: no fakes made on the fly
        raise ValueError(f"method.name: {name!r} fits on ready-made fakes; set data.sbi: false")
    return cls, opts


@register_method("plain")
class Plain(Method):
    """Binary cross-entropy on the batch as it comes (every image weighs 1)."""

    def loss(self, model, batch):
        return F.binary_cross_entropy_with_logits(model(batch["image"]), batch["label"])


class ProbeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    copies: int = Field(2, ge=1, le=16)  # photo-pipeline draws of every training face
    video_share: float = Field(0.0, ge=0.0, le=1.0)  # share of those coded as H.264 video frames
    c_grid: list[float] = Field(default_factory=lambda: [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1], min_length=1)


@register_method(
    "linear-probe",
    options=ProbeOptions,
    architectures=("probe-effnet-*", "spectrum-probe", "sbi-effnet-*", "effnet-*"),
    requires=("forward_head", "head"),
)
class LinearProbe(Method):
    """UnivFD-style: the pretrained backbone stays frozen and only the linear head is fitted, by
    logistic regression on pooled features (``train/probe.py``, which says what differs)."""

    fitted_head = True

    def loss(self, model, batch):
        raise RuntimeError("method 'linear-probe' is fitted on frozen features (train/probe.py), not stepped")
