"""The video combination of ``fakelens ensemble`` (``video:`` in the recipe): members' weights and
offsets refitted on the validation faces that come from videos, plus animated generated portraits.

Why a second fit: the photo fit has to keep studio portraits, which a frozen-feature GAN probe reads
as generated, below the threshold, so it gives that member an offset that silences it; on video
frames that member sees H.264 faces instead, and the faces of talking-head generators are painted by
a generator. The video validation set holds the recipe's validation faces whose file is a row of
``data.manifest`` (the frames of video-real's validation groups, their self-blends, lip-sync and
animated fakes) and, when ``portraits`` > 0, the validation share of the ready-made GAN and diffusion
stills each animated by the landmark track of one validation clip (its frames as the manifest holds
them: ``fakelens synth`` samples a dozen per clip, so neighbours are ~0.4 s apart) and coded as H.264
(``forge.animate_portrait``): generated texture under real motion, which no other validation fake
shows. Nothing here reads a test or dev file: stills and driving clips are both validation data.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fakelens.data.families import fake_family, forgery_kind
from fakelens.errors import ConfigError

ENTIRE_FACE_KINDS = ("entire-face GAN", "entire-face diffusion")
_FRAME_SUFFIX = re.compile(r"_f\d+$")  # synth's frame names: <clip>_f00012.png


class VideoFit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # animated clips per validation GAN/diffusion still (0: the video validation faces only)
    portraits: int = Field(1, ge=0)
    # sample weights of the video fit (train/ensemble.py: family_weights)
    balance: Literal["none", "family", "family+source", "kind"] = "family"
    min_frames: int = Field(4, ge=2)  # a driving clip needs this many validation frames with a face


def video_rows(manifest: Path) -> dict[str, str]:
    """``{file: video_id}`` of a manifest's rows (what marks a validation face as a video face)."""
    from fakelens.data.manifest import read_manifest

    return {
        str(r.path): (r.video_id or _FRAME_SUFFIX.sub("", Path(r.path).stem)) for r in read_manifest(manifest)
    }


def driving_tracks(val_faces, rows: dict[str, str], min_frames: int) -> dict[str, np.ndarray]:
    """Landmark tracks ((T, 68, 2), frames in file-name order) of the validation real clips."""
    by_clip: dict[str, list[int]] = {}
    for i, p in enumerate(val_faces.paths):
        if str(p) in rows:
            by_clip.setdefault(rows[str(p)], []).append(i)
    return {
        clip: np.stack([val_faces.landmarks[i] for i in sorted(idx, key=lambda i: str(val_faces.paths[i]))])
        for clip, idx in sorted(by_clip.items())
        if len(idx) >= min_frames
    }


def portrait_frames(fakes_val, rows: dict[str, str], tracks: dict[str, np.ndarray], copies: int, seed: int):
    """(frames, still file per frame): each validation GAN/diffusion still (not a manifest row)
    animated ``copies`` times, each by a driving clip picked by rendezvous hashing on the still's name."""
    from fakelens.forge import animate_portrait

    frames, origins = [], []
    if fakes_val is None or not tracks or copies == 0:
        return frames, origins
    clips = sorted(tracks)
    for i, p in enumerate(fakes_val.paths):
        if str(p) in rows or forgery_kind(fake_family(p)) not in ENTIRE_FACE_KINDS:
            continue
        for k in range(copies):
            clip = max(clips, key=lambda c: zlib.crc32(f"{seed}:{p}:{k}:{c}".encode()))
            rng = np.random.default_rng([seed, zlib.crc32(str(p).encode()), k])
            moved = animate_portrait(fakes_val.crops[i], fakes_val.landmarks[i], tracks[clip], rng)
            frames += moved
            origins += [str(p)] * len(moved)
    return frames, origins


def fit_video_combination(
    cfg_video: VideoFit,
    manifest: Path | None,
    faces,
    val,
    member_logits: np.ndarray,
    logits_of: Callable[[list[np.ndarray]], np.ndarray],
    fit: Callable,
    weigh: Callable,
    seed: int,
) -> tuple[dict, dict]:
    """(the combination ``{"weights", "offsets", "bias"}``, its report) from the video validation
    faces; ``logits_of(frames)`` gives the members' (N, K) logits, ``fit(logits, labels, weights)`` and
    ``weigh(families, sources)`` are the photo fit's own functions."""
    if manifest is None:
        raise ConfigError("video: needs data.manifest (the video validation faces are its rows)")
    rows = video_rows(Path(manifest))
    is_video = np.array([p in rows for p in val.paths])
    if not is_video.any():
        raise ConfigError("video: no validation face comes from data.manifest")
    logits = member_logits[is_video]
    labels = val.y.numpy().astype(int)[is_video]
    families, sources = val.families[is_video], val.sources[is_video]
    tracks = driving_tracks(faces.val, rows, cfg_video.min_frames)
    frames, _ = portrait_frames(faces.fakes_val, rows, tracks, cfg_video.portraits, seed)
    if cfg_video.portraits and not frames:
        raise ConfigError(
            "video.portraits: no validation GAN/diffusion still or no validation clip with "
            f"{cfg_video.min_frames}+ frames to animate (set video.portraits: 0 to fit without)"
        )
    if frames:
        logits = np.concatenate([logits, logits_of(frames)])
        labels = np.concatenate([labels, np.ones(len(frames), int)])
        families = np.concatenate([families, ["portrait"] * len(frames)])
        sources = np.concatenate([sources, ["portrait"] * len(frames)])
    weights = None if cfg_video.balance == "none" else weigh(families, sources)
    combination = fit(logits, labels, weights)
    report = {
        "samples": {"real": int((labels == 0).sum()), "fake": int((labels == 1).sum())},
        "families": {f: int((families == f).sum()) for f in sorted(set(families))},
        "driving_clips": len(tracks),
        "balance": cfg_video.balance,
        "weights": [round(float(w), 6) for w in combination["weights"]],
        "offsets": [round(float(c), 6) for c in combination["offsets"]],
        "bias": round(float(combination["bias"]), 6),
    }
    return combination, {"report": report, "logits": logits, "labels": labels, "families": families}
