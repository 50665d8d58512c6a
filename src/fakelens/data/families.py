"""Which generator family a ready-made fake belongs to, from its folder names.

Shared by the still-image protocol (``evaluate/generators.py``: leave one family out) and the
ensemble fit (``train/ensemble.py``: every family weighs the same), so both name families alike.
"""

from __future__ import annotations

from pathlib import Path

# folder names under ../shared/data -> generator family (synthetic/'s subfolders, stylegan2-fake)
FAMILIES = {
    "seeprettyface-stylegan1": "StyleGAN1",
    "corvitto-readme": "StyleGAN1",  # StyleGAN1/3 samples
    "seeprettyface-stylegan2": "StyleGAN2 (custom)",
    "stylegan2-fake": "StyleGAN2 (TPDNE)",
    "sfhq-stylegan2-figtiles": "SFHQ",
    "gpen-seg2face": "GPEN",
    "sdfd-gebaltso": "Stable Diffusion",
    "sd15-corvitto": "Stable Diffusion",
}


# the forgery kinds fakelens reports (issue 13's families): what a balanced fit weighs equally
FORGERY_KINDS = {
    "self-blend": "blend/swap",
    "lipsync": "reenactment/lip-sync",
    "animate": "reenactment/lip-sync",
    "talkinghead": "reenactment/lip-sync",
    "portrait": "reenactment/lip-sync",  # a generated still animated by real motion (forge.animate_portrait)
    "StyleGAN1": "entire-face GAN",
    "StyleGAN2 (custom)": "entire-face GAN",
    "StyleGAN2 (TPDNE)": "entire-face GAN",
    "SFHQ": "entire-face GAN",
    "GPEN": "entire-face GAN",
    "Stable Diffusion": "entire-face diffusion",
}


def forgery_kind(family: str) -> str:
    """The kind of forgery a family is (``FORGERY_KINDS``); a family not listed is its own kind."""
    return FORGERY_KINDS.get(family, family)


def family_of(path: str | Path) -> str:
    """The generator family of a fake from its folder names (``unknown`` when none matches)."""
    for part in reversed(Path(path).parts):
        if part in FAMILIES:
            return FAMILIES[part]
    return "unknown"


def fake_family(path: str | Path) -> str:
    """A generator family when the folders name one, else the fake's folder (e.g. ``lipsync`` or
    ``animate`` under a ``fakelens synth`` output): what a per-family balance groups by."""
    family = family_of(path)
    return family if family != "unknown" else Path(path).parent.name or "unknown"
