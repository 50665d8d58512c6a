"""Model files that ship inside other PyPI packages, found without importing those packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, relative: str, pip_name: str) -> Path:
    """Path of ``relative`` inside installed ``package``; a clear error naming what to install.

    (``import face_recognition_models`` fails on new setuptools, which is why we only locate it.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the '{pip_name}' package is not installed (pip install {pip_name})")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise RuntimeError(f"{relative} not found in the '{pip_name}' package at {path.parent}")
    return path
