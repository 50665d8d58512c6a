"""Reading a YAML config into a pydantic model, with one-line errors naming the file: shared by
training recipes, protocols and ensemble recipes."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from fakelens.errors import ConfigError


def read_yaml(path: Path):
    """The parsed file (``{}`` when empty); a missing file or bad YAML is a ConfigError."""
    if not path.is_file():
        raise ConfigError("no such file", path)
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML ({str(err).splitlines()[0]})", path) from None


def validate(cls: type[BaseModel], raw, path: Path):
    """``cls.model_validate(raw)``; the first problem becomes a one-line ConfigError."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{where}: {first['msg']} ({len(err.errors())} error(s) in all)", path) from None
