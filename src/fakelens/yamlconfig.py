"""Reading a YAML config into a pydantic model, with one-line errors naming the file: shared by
training recipes, protocols and ensemble recipes.

``base: other.yaml`` (or a list, applied in order) inherits another file: mappings merge key by key,
the child winning; a list or any other value replaces the base's whole; ``key: null`` is a value like
any other (``cache_dir: null`` turns the cache off), not a deletion. Path-typed keys, declared by
each config model, are resolved while merging against the folder of the file that *wrote* them, so a
base in ``configs/base/`` names the shared data once for recipes in any folder. The merged, resolved
config (absolute paths, no ``base``) is what a run writes beside its outputs.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
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


def resolve_path(value, folder: Path, names: Collection[str] = ()):
    """A relative path (a str or Path, or a list of them) made absolute against ``folder``;
    ``None``, absolute paths, entries of ``names`` (shipped model names) and non-paths unchanged.
    The one place a config's relative path gets its meaning."""
    if isinstance(value, list):
        return [resolve_path(v, folder, names) for v in value]
    if isinstance(value, str | os.PathLike) and not (isinstance(value, str) and value in names):
        p = Path(value)
        return str(p if p.is_absolute() else (folder / p).resolve())
    return value


def resolve_paths(tree: dict, paths: Collection[str], folder: Path, names: Collection[str] = ()) -> dict:
    """``tree`` with each dotted key of ``paths`` that it holds resolved against ``folder``."""
    tree = dict(tree)
    for key in paths:
        head, _, rest = key.partition(".")
        if head not in tree:
            continue
        if rest:
            if isinstance(tree[head], dict):
                tree[head] = resolve_paths(tree[head], [rest], folder, names)
        else:
            tree[head] = resolve_path(tree[head], folder, names)
    return tree


def merge(base: dict, child: dict) -> dict:
    """``child`` over ``base``: mappings merge recursively, anything else (lists, null) replaces."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_config_yaml(
    path: Path,
    paths: Collection[str] = (),
    names: Collection[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> dict:
    """The file's mapping with its ``base:`` files merged under it and the ``paths`` keys resolved
    against the folder of the file that wrote each; ``aliases`` renames top-level keys per file
    (``manifest`` -> ``manifests``) before merging. No ``base`` key is left in the result."""
    return _read_layered(Path(path), paths, names, dict(aliases or {}), ())


def _read_layered(path: Path, paths, names, aliases: dict, chain: tuple[Path, ...]) -> dict:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping", path)
    for alias, key in aliases.items():
        if alias in raw:
            if key in raw:
                raise ConfigError(f"give {key} or {alias}, not both", path)
            raw[key] = raw.pop(alias)
    bases = raw.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise ConfigError("base: expected a file name or a list of file names", path)
    chain = (*chain, path.resolve())
    merged: dict = {}
    for name in bases:
        target = Path(name) if Path(name).is_absolute() else path.parent / name
        if target.resolve() in chain:
            loop = " -> ".join(str(p) for p in (*chain, target.resolve()))
            raise ConfigError(f"base: '{name}' makes a cycle ({loop})", path)
        if not target.is_file():
            raise ConfigError(f"base: no such file '{name}' (looked for {target})", path)
        merged = merge(merged, _read_layered(target, paths, names, aliases, chain))
    return merge(merged, resolve_paths(raw, paths, path.parent, names))
