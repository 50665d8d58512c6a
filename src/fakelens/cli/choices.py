"""The CLI's string choices as enums, and one error line for a wrong value.

Typer validates an Enum annotation on its own, but reports a mistake in a multi-line box. ``choice``
gives the option a parser that prints ``error: --backend 'onx' is not one of torch, onnx, auto (did
you mean 'onnx'?)`` and exits 2, like every other fakelens error; the help still lists the choices.
The values mirror the tuples the library checks (``BACKENDS``, ``LAYOUTS``, ...; a test keeps them
equal) so that starting the CLI does not import torch to learn them.
"""

from __future__ import annotations

import difflib
from enum import StrEnum

import typer

from fakelens.cli._common import print_error


class Backend(StrEnum):
    torch = "torch"
    onnx = "onnx"
    auto = "auto"


class Engine(StrEnum):
    local = "local"
    ray = "ray"


class Accelerator(StrEnum):
    cpu = "cpu"
    gpu = "gpu"
    auto = "auto"


class Strategy(StrEnum):
    auto = "auto"
    ddp = "ddp"


class Precision(StrEnum):
    full = "32-true"
    mixed16 = "16-mixed"
    bf16 = "bf16-mixed"


class ShardFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


class Layout(StrEnum):
    ffpp = "ffpp"
    celebdf = "celebdf"
    dfdc = "dfdc"
    df40 = "df40"
    generic = "generic"
    manifest = "manifest"


class Compression(StrEnum):
    raw = "raw"
    c23 = "c23"
    c40 = "c40"


class Metric(StrEnum):
    auc = "auc"
    ap = "ap"
    eer = "eer"
    acc = "acc"
    fpr = "fpr"
    tpr = "tpr"


class Tta(StrEnum):
    acmf = "acmf"


SYNTH_METHODS = (
    "sbi",
    "faceswap",
    "freda",
    "hfmask",
    "vblend",
    "lipsync",
    "animate",
    "talkinghead",
)  # = synth.METHODS


def not_one_of(option: str, value: str, choices) -> str:
    """``--backend 'onx' is not one of torch, onnx, auto (did you mean 'onnx'?)``."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(value).lower(), choices, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{option} {str(value)!r} is not one of {', '.join(choices)}{hint}"


def _refuse(message: str):
    print_error(message)
    raise typer.Exit(2)


def choice(enum_cls: type[StrEnum], option: str, *aliases: str, **kwargs):
    """``typer.Option(option, *aliases, **kwargs)`` taking a member of ``enum_cls`` (any case)."""

    def parse(value):
        if value is None or isinstance(value, enum_cls):
            return value
        for member in enum_cls:
            if member.value.casefold() == str(value).casefold():
                return member
        _refuse(not_one_of(option, value, [m.value for m in enum_cls]))

    return typer.Option(option, *aliases, parser=parse, **kwargs)


def choice_list(choices: tuple[str, ...], option: str, *aliases: str, **kwargs):
    """``typer.Option`` taking a comma-separated list of ``choices`` (kept as the string)."""

    def parse(value):
        if value is None:
            return value
        for item in (s.strip().lower() for s in str(value).split(",")):
            if item and item not in choices:
                _refuse(not_one_of(option, item, choices))
        return str(value)

    return typer.Option(option, *aliases, parser=parse, **kwargs)
