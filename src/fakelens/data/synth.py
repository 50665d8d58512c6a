"""Write a labelled training/benchmark set of forgeries made from a folder of real faces.

Every real face is aligned by the same ``FacePipeline`` as scanning (through the cached
``build_faceset``); each method then writes its fakes with their masks, and ``manifest.jsonl``
(readable by ``fakelens evaluate``) gets one line per PNG as soon as it is written. Splits come
from a hash of the real file's group (``data.splits.group_of``: a file directly in the folder is its
own identity, as in FFHQ; files in one subfolder - a person, a video's frames - share a split), and a
face swap only pairs faces of the same split, so no face crosses from train to test. Video ids are
``<dataset>/...`` so that two synth sets merged into one manifest never share one. Each (file,
method, copy) has its own generator seeded from ``seed`` and swap partners are picked by rendezvous
hashing, so a seed fixes the output and adding files changes an earlier fake only where the new
face becomes its swap partner.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fakelens.data.splits import group_of
from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FaceConfig

METHODS = ("sbi", "faceswap", "freda", "hfmask", "vblend", "lipsync", "animate", "talkinghead")
VIDEO_METHODS = ("vblend", "lipsync", "animate", "talkinghead")  # made from the sampled frames of videos


@dataclass
class SynthSummary:
    out: Path
    manifest: Path
    counts: dict[str, int] = field(default_factory=dict)  # PNGs written, by method ("real" for reals)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def _png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1] if rgb.ndim == 3 else rgb)):
        raise FakelensError("cannot write PNG", path, verb="cannot write")


def _mask_png(mask: np.ndarray) -> np.ndarray:
    return np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)


class _Writer:
    """Writes PNGs and flushes one manifest line per image, counting by method."""

    def __init__(self, out: Path, summary: SynthSummary, real_dir: Path, aligned: str):
        self.out, self.summary, self.aligned = out, summary, aligned
        self.real_dir, self.dataset = real_dir, real_dir.name
        self.fp = open(summary.manifest, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def add(self, rel: str, image, label, method, video_id, split, sources, mask=None, mask_rel=None):
        _png(self.out / rel, image)
        if mask is not None:
            _png(self.out / mask_rel, _mask_png(mask))
        video_id = f"{self.dataset}/{video_id}"  # unique across synth sets merged into one manifest
        row = {"path": rel, "label": label, "dataset": self.dataset, "method": method, "video_id": video_id}
        row["split"] = split
        if sources:  # the real files' groups (subfolders: a collection, a person): recipes can leave one out
            groups = [group_of(self.real_dir / src, self.real_dir) for src in sources]
            row["group"] = groups[0]  # the target's: the split follows it
            row["source_groups"] = sorted(set(groups))  # with a donor's or driving clip's
        row |= {"mask": mask_rel if mask is not None else None, "sources": sources, "aligned": self.aligned}
        self.fp.write(json.dumps(row) + "\n")
        self.fp.flush()
        key = method if label == "fake" else "real"
        self.summary.counts[key] = self.summary.counts.get(key, 0) + 1

    def fake(self, method: str, name: str, image, mask, split, sources, video_id=None):
        vid = video_id or f"{method}/{name}"
        rel, mask_rel = f"fake/{method}/{name}.png", f"mask/{method}/{name}.png"
        self.add(rel, image, "fake", method, vid, split, sources, mask, mask_rel)

    def close(self):
        self.fp.close()


def _rng(seed: int, key: str, method: str, k: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode()), METHODS.index(method), k])


def _media(real_dir: Path, out: Path, limit: int | None) -> tuple[list[Path], list[Path]]:
    from fakelens.media import VIDEO_EXTENSIONS, iter_media

    if not real_dir.exists():
        raise FakelensError("no such folder", real_dir)
    if not real_dir.is_dir():
        raise FakelensError("not a folder (give a folder of real face images or videos)", real_dir)
    out_abs = out.resolve()
    files = [p for p in iter_media([real_dir]) if out_abs not in p.resolve().parents]
    files = files[:limit] if limit is not None else files
    if not files:
        raise FakelensError("no images or videos found", real_dir)
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
    return [p for p in files if p not in videos], videos


def _name(path: Path, real_dir: Path) -> str:
    return path.relative_to(real_dir).with_suffix("").as_posix().replace("/", "__")


def _check(methods, per_face: int) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip().lower() for m in methods if m.strip()))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise FakelensError(f"unknown method '{','.join(unknown)}' (known: {', '.join(METHODS)})")
    if per_face < 1:
        raise FakelensError(f"per_face must be >= 1, got {per_face}")
    return methods


def synthesize(
    real_dir: str | Path,
    out: str | Path,
    methods: tuple[str, ...] | list[str] = METHODS,
    per_face: int = 1,
    seed: int = 0,
    limit: int | None = None,
    face: FaceConfig | None = None,
    cache_dir: str | Path | None = None,
    video_frames: int = 8,
    progress: bool = True,
) -> SynthSummary:
    """Make ``per_face`` fakes per real face and method; see ``fakelens synth --help``.

    Images feed sbi, faceswap, freda and hfmask; videos feed vblend, lipsync, animate and talkinghead
    (``video_frames`` frames sampled evenly in time, each frame's largest face aligned): lipsync pairs
    frames of one clip, animate drives a clip's first frame with the landmark track of another clip
    of its split (its own if it is alone there), talkinghead re-renders those animated frames as a
    talking-head decoder would. ``cache_dir`` defaults to ``out/.cache``."""
    from fakelens import __version__
    from fakelens.data.facecache import build_faceset

    real_dir, out = Path(real_dir), Path(out)
    methods = _check(methods, per_face)
    images, videos = _media(real_dir, out, limit)
    image_methods = [m for m in methods if m not in VIDEO_METHODS]
    video_methods = [m for m in methods if m in VIDEO_METHODS]
    if not images and not (video_methods and videos):
        raise FakelensError(
            f"no images for {', '.join(image_methods)} (videos are used by {', '.join(VIDEO_METHODS)} only)",
            real_dir,
        )
    if not videos and not image_methods:
        raise FakelensError(f"no videos found ({', '.join(video_methods)} forge video frames)", real_dir)
    face = face or FaceConfig()
    out.mkdir(parents=True, exist_ok=True)
    summary = SynthSummary(out=out, manifest=out / "manifest.jsonl")
    config = {
        "real_dir": str(real_dir.resolve()), "out": str(out.resolve()), "methods": list(methods),
        "per_face": per_face, "seed": seed, "limit": limit, "video_frames": video_frames,
        "images": len(images), "videos": len(videos), "face": face.to_dict(), "fakelens": __version__,
    }  # fmt: skip
    (out / "synth-config.json").write_text(json.dumps(config, indent=2))

    if video_methods and images:
        summary.notes.append(f"{', '.join(video_methods)}: {len(images)} image(s) skipped (need videos)")
    if videos and image_methods:
        summary.notes.append(
            f"{', '.join(image_methods)}: {len(videos)} video(s) skipped"
            f" (used by {', '.join(VIDEO_METHODS)} only)"
        )
    writer = _Writer(out, summary, real_dir, face.fingerprint())  # protocols select rows by dataset
    try:
        if image_methods and images:
            faces = build_faceset(images, face, cache_dir if cache_dir is not None else out / ".cache")
            summary.skipped += faces.skipped
            _image_forgeries(writer, faces, real_dir, image_methods, per_face, seed, progress)
        if video_methods and videos:
            _video_forgeries(
                writer, videos, real_dir, face, video_methods, per_face, seed, video_frames, progress
            )
    finally:
        writer.close()
    if not summary.counts:
        raise FakelensError("no face found in any image or video", real_dir)
    config["summary"] = {"counts": summary.counts, "notes": summary.notes, "skipped": summary.skipped}
    (out / "synth-config.json").write_text(json.dumps(config, indent=2))
    return summary


def _image_forgeries(writer: _Writer, faces, real_dir: Path, methods, per_face, seed, progress) -> None:
    from rich.progress import track

    from fakelens.data.splits import group_of, split_of
    from fakelens.forge import face_swap, freda_forgery, mask_high_frequency_pair, self_blend

    names = [_name(Path(p), real_dir) for p in faces.paths]
    dup = {n for n in names if names.count(n) > 1}  # a.png and a.jpg: keep both
    names = [
        f"{n}_{Path(p).suffix[1:].lower()}" if n in dup else n
        for n, p in zip(names, faces.paths, strict=True)
    ]
    srcs = [Path(p).relative_to(real_dir).as_posix() for p in faces.paths]
    splits = [split_of(group_of(Path(p), real_dir)) for p in faces.paths]  # frames of a folder stay together
    lone = 0
    for i in track(range(len(names)), description="forging", disable=not progress):
        crop, lm, name, split = faces.crops[i], faces.landmarks[i], names[i], splits[i]
        writer.add(f"real/{name}.png", crop, "real", None, f"real/{srcs[i]}", split, [srcs[i]])
        partners = [j for j in range(len(names)) if j != i and splits[j] == split]
        needs_swap = {"faceswap", "freda", "hfmask"} & set(methods)
        if needs_swap and not partners:
            lone += 1
        for k in range(per_face):
            tag = f"{name}_{k}"
            if "sbi" in methods:
                sb = self_blend(crop, lm, _rng(seed, name, "sbi", k))
                if not np.array_equal(sb.target, crop):  # SBI jittered the target: it is the pair's real
                    writer.add(
                        f"real/{tag}_sbi.png", sb.target, "real", None, f"real/{tag}_sbi", split, [srcs[i]]
                    )
                writer.fake("sbi", tag, sb.fake, sb.mask, split, [srcs[i]])
            if not (needs_swap and partners):
                continue
            rng = _rng(seed, name, "faceswap", k)
            # rendezvous hashing: a new file changes this face's partner only if it is drawn itself
            j = max(partners, key=lambda q: zlib.crc32(f"{seed}:{name}:{k}:{names[q]}".encode()))
            swap = face_swap(faces.crops[j], faces.landmarks[j], crop, lm, rng)
            sources = [srcs[i], srcs[j]]  # target first, then the identity pasted onto it
            if "faceswap" in methods:
                writer.fake("faceswap", tag, swap.fake, swap.mask, split, sources)
            if "freda" in methods:
                fr = freda_forgery(swap, _rng(seed, name, "freda", k))
                writer.fake("freda", tag, fr.fake, fr.mask, split, sources)
            if "hfmask" in methods:
                real_rep, fake_rep = mask_high_frequency_pair(
                    crop, swap.fake, swap.mask, _rng(seed, name, "hfmask", k)
                )
                rel = f"hfmask-real/{tag}.png"
                writer.add(rel, real_rep.to_uint8(), "real", "hfmask", f"hfmask-real/{tag}", split, [srcs[i]])
                writer.fake("hfmask", tag, fake_rep.to_uint8(), swap.mask, split, sources)
    if lone:
        writer.summary.notes.append(
            f"face swaps: {lone} face(s) had no other face in their split to pair with"
        )


def _video_faces(path: Path, pipe, num_frames: int):
    """Aligned largest face and landmarks of ``num_frames`` frames sampled evenly in time."""
    from fakelens.faces.landmarks import landmarks68
    from fakelens.media import sample_frames

    crops, lms, indices, faceless = [], [], [], 0
    for frame in sample_frames(path, num_frames=num_frames):
        faces = pipe.extract(frame.image)
        if not faces:
            faceless += 1
            continue
        crops.append(faces[0].crop)
        lms.append(landmarks68(faces[0].crop, pipe.config.crop))
        indices.append(frame.index)
    return crops, lms, indices, faceless


def _video_forgeries(
    writer: _Writer, videos, real_dir: Path, face, methods, per_face, seed, num_frames, progress
):
    from rich.progress import track

    from fakelens.data.splits import group_of, split_of
    from fakelens.faces.pipeline import FacePipeline
    from fakelens.forge import blend_video

    pipe = FacePipeline(face)
    faceless_total, clips = 0, []
    for path in track(videos, description="forging videos", disable=not progress):
        name, src, split = (
            _name(path, real_dir),
            path.relative_to(real_dir).as_posix(),
            split_of(group_of(path, real_dir)),
        )
        try:
            crops, lms, indices, faceless = _video_faces(path, pipe, num_frames)
        except FakelensError as err:
            writer.summary.skipped.append((str(path), err.reason))
            continue
        faceless_total += faceless
        if len(crops) < 2:
            writer.summary.skipped.append((str(path), f"a face in {len(crops)} sampled frame(s), need 2"))
            continue
        for crop, idx in zip(crops, indices, strict=True):
            writer.add(f"real/{name}_f{idx:05d}.png", crop, "real", None, f"real/{src}", split, [src])
        for k in range(per_face):
            if "vblend" in methods:
                vb = blend_video(np.stack(crops), np.stack(lms), _rng(seed, name, "vblend", k))
                for t, idx in enumerate(indices):
                    writer.fake(
                        "vblend",
                        f"{name}_{k}_f{idx:05d}",
                        vb.fakes[t],
                        vb.masks[t],
                        split,
                        [src],
                        f"vblend/{name}_{k}",
                    )
            if "lipsync" in methods:
                _lipsync(writer, name, src, split, crops, lms, indices, k, _rng(seed, name, "lipsync", k))
        clips.append((name, src, split, crops[0], lms))  # animate needs every clip's landmark track
    if "animate" in methods or "talkinghead" in methods:
        _animate(writer, clips, per_face, seed, methods)
    if faceless_total:
        writer.summary.notes.append(
            f"{', '.join(methods)}: {faceless_total} sampled frame(s) without a face left out"
        )


def _lipsync(writer: _Writer, name, src, split, crops, lms, indices, k, rng, max_pose: float = 0.03) -> None:
    """One fake clip: each sampled frame's lower face redrawn from another frame of the same clip, drawn
    among those in nearly the same head pose (stable points within ``max_pose`` x face size after a
    similarity; a lip-sync generator redraws the mouth in the frame's own pose), else from itself."""
    from fakelens.forge import lower_face_resynthesis
    from fakelens.forge.lower_face import alignment_residual

    for i, idx in enumerate(indices):
        near = [j for j in range(len(crops)) if j != i and alignment_residual(lms[j], lms[i]) < max_pose]
        j = near[int(rng.integers(len(near)))] if near else i
        r = lower_face_resynthesis(crops[i], lms[i], crops[j], lms[j], rng)
        writer.fake("lipsync", f"{name}_{k}_f{idx:05d}", r.fake, r.mask, split, [src], f"lipsync/{name}_{k}")


def _animate(writer: _Writer, clips, per_face, seed, methods) -> None:
    """One fake clip per clip: its first sampled frame warped to follow a driving clip of its split
    (rendezvous-hashed, as swap partners are; the clip itself if it is alone in its split). For
    animate, the first driving frame (no motion) and frames where no pixel moved a full pixel are
    left out; talkinghead re-renders every warped frame with one decoder look per clip
    (forge/rerender.py), so each of its frames is a forgery."""
    from fakelens.forge import animate_still
    from fakelens.forge.rerender import draw_render, rerender_frame

    still = 0
    for name, src, split, crop, lms in clips:
        partners = [c for c in clips if c[2] == split and c[0] != name]
        for k in range(per_face):
            own = (name, src, split, crop, lms)
            drv = (
                max(partners, key=lambda c: zlib.crc32(f"{seed}:{name}:{k}:{c[0]}".encode()))
                if partners
                else own
            )
            frames = animate_still(crop, lms[0], drv[4], _rng(seed, name, "animate", k))
            look = draw_render(_rng(seed, name, "talkinghead", k))
            for t, f in enumerate(frames):
                sources = [src, drv[1]]
                if "talkinghead" in methods:
                    fake, mask = rerender_frame(f.fake, f.landmarks, crop, look)
                    tag = f"{name}_{k}_t{t:02d}"
                    writer.fake("talkinghead", tag, fake, mask, split, sources, f"talkinghead/{name}_{k}")
                if "animate" not in methods:
                    continue
                if f.mask.max() < 1:
                    still += t > 0
                    continue
                writer.fake(
                    "animate", f"{name}_{k}_t{t:02d}", f.fake, f.mask, split, sources, f"animate/{name}_{k}"
                )
    if still:
        writer.summary.notes.append(
            f"animate: {still} driven frame(s) left out (no pixel moved a full pixel)"
        )
