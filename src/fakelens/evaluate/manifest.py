"""Manifest reading lives in :mod:`fakelens.data.manifest` (training reads manifests too, and data/
sits below evaluate/); this name is kept so existing imports work."""

from fakelens.data.manifest import ManifestRow, read_manifest

__all__ = ["ManifestRow", "read_manifest"]
