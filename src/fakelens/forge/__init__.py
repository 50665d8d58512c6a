"""Training forgeries: manipulations of real faces that come with the mask of what changed."""

from fakelens.forge.sbi import SBIConfig, SelfBlend, self_blend, self_blend_photo

__all__ = ["SBIConfig", "SelfBlend", "self_blend", "self_blend_photo"]
