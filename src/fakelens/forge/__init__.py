"""Training forgeries: manipulations of real faces that come with the mask of what changed.

Names load lazily: importing one module (``fakelens.forge.perturb`` during evaluation) must not
import every forgery (scipy's Delaunay for face swaps, ...).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "FaceSwapConfig": "faceswap",
    "Forgery": "faceswap",
    "face_swap": "faceswap",
    "freda_forgery": "freda",
    "freda_mix": "freda",
    "HFMasked": "hf_mask",
    "mask_high_frequency": "hf_mask",
    "mask_high_frequency_pair": "hf_mask",
    "SBIConfig": "sbi",
    "SelfBlend": "sbi",
    "self_blend": "sbi",
    "self_blend_photo": "sbi",
    "paste_crop": "sbi",
    "VideoBlend": "video_blend",
    "blend_video": "video_blend",
    "LowerFaceConfig": "lower_face",
    "lower_face_resynthesis": "lower_face",
    "AnimateConfig": "animate",
    "AnimatedFrame": "animate",
    "animate_still": "animate",
    "animate_portrait": "animate",
    "PortraitConfig": "animate",
    "RerenderConfig": "rerender",
    "draw_render": "rerender",
    "rerender_frame": "rerender",
    "apply_perturbation": "perturb",
    "parse_perturbation": "perturb",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"fakelens.forge.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fakelens.forge' has no attribute {name!r}")
