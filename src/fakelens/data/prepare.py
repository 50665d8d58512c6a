"""Raw deepfake datasets -> a face dataset: aligned crops, 68 landmarks, masks and one manifest.

Each video gets ``frames`` frames evenly spaced in *time* (not the first N), run through the same
:class:`FacePipeline` as training and ``scan``. Workers (processes, each with its own pipeline) write
the PNGs; the main process appends one flushed manifest line per face as results arrive and then
marks the item complete in ``done.jsonl``, so an interrupted run loses only the items in flight and
``resume`` picks up after the last complete one. Frames without a face and unreadable files are
listed in ``prepare-report.json``, never dropped silently.

Landmarks go inline in each manifest row (68 [x, y] pairs in crop pixels, 0.1 px): a row is then
complete in one flushed line, with no side file that could go missing or out of sync (~0.7 KB/row).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakelens import __version__
from fakelens.data.layouts import Item, frame_files, parse_layout
from fakelens.errors import FakelensError
from fakelens.faces.pipeline import FaceConfig

MANIFEST = "manifest.jsonl"
DONE = "done.jsonl"
REPORT = "prepare-report.json"
CONFIG = "prepare-config.json"
MASK_THRESHOLD = 127  # mask videos are lossy-compressed: binarise at half level after warping
# Settings that change what a prepared item contains: resuming across a change would mix datasets.
_RESUME_KEYS = ("src", "layout", "frames", "max_faces", "compression", "splits_dir", "face")


@dataclass
class PrepareSummary:
    out: Path
    items: int  # videos/photos in the dataset
    processed: int  # items finished in this run
    resumed: int  # items skipped because an earlier run had finished them
    faces: int  # manifest rows written in this run
    faceless_frames: int  # examined frames with no face (all runs)
    errors: int  # items that could not be read (this run); retried by a later resume
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> counts
    notes: list[str] = field(default_factory=list)


def prepare_dataset(
    src: str | Path,
    layout: str,
    out: str | Path,
    *,
    frames: int = 32,
    workers: int = 2,
    face_config: FaceConfig | None = None,
    max_faces: int = 1,
    splits_dir: str | Path | None = None,
    compression: str = "c23",
    resume: bool = True,
    progress: bool = True,
) -> PrepareSummary:
    """Turn the dataset at ``src`` (read as ``layout``) into ``out/faces``, ``out/manifest.jsonl``."""
    if frames < 1 or max_faces < 1 or workers < 1:
        raise ValueError("frames, max_faces and workers must be >= 1")
    face = face_config or FaceConfig()
    notes: list[str] = []
    src = Path(src).absolute()
    items = parse_layout(src, layout, splits_dir=splits_dir, compression=compression, notes=notes)
    out = Path(out)
    inside = [it for it in items if out.absolute() in it.source.parents]
    if inside:  # an --out inside SRC: its own crops must not be read back as dataset media
        items = [it for it in items if it not in inside]
        if not items:
            raise FakelensError("holds only files written by fakelens prepare (is --out inside SRC?)", src)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "src": str(src),
        "layout": layout,
        "frames": frames,
        "max_faces": max_faces,
        "compression": compression,
        "splits_dir": None if splits_dir is None else str(Path(splits_dir).absolute()),
        "face": face.to_dict(),
        "workers": workers,
        "fakelens_version": __version__,
        "items": len(items),
    }
    done = _start(out, config, resume, {it.video_id: str(it.source) for it in items}, notes)
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    todo = [it for it in items if it.video_id not in done]
    errors: list[dict] = []
    faces = 0
    with open(out / MANIFEST, "a") as manifest, open(out / DONE, "a") as done_fp, _progress(progress) as bar:
        task = bar.add_task("preparing faces", total=len(todo))
        for res in _run(todo, out, frames, max_faces, face, workers):
            for row in res["rows"]:
                manifest.write(json.dumps(row) + "\n")
                manifest.flush()
            faces += len(res["rows"])
            if res["error"] is not None:
                errors.append({"source": res["source"], "video_id": res["video_id"], "reason": res["error"]})
            else:
                entry = {k: res[k] for k in ("video_id", "source", "frames", "faceless")}
                entry["faces"], entry["notes"] = len(res["rows"]), res["notes"]
                done_fp.write(json.dumps(entry) + "\n")
                done_fp.flush()
                done[res["video_id"]] = entry
            bar.advance(task)
    summary = _finish(out, items, done, errors, notes, faces=faces)
    summary.processed, summary.resumed = len(todo) - len(errors), len(items) - len(todo)
    return summary


def _start(
    out: Path, config: dict, resume: bool, current: dict[str, str], notes: list[str]
) -> dict[str, dict]:
    """Completed items of an earlier run (empty when not resuming); drops half-written rows and the
    rows of items no longer in SRC (``current``: video id -> source), whose files were removed or
    replaced since."""
    manifest, done_path, cfg_path = out / MANIFEST, out / DONE, out / CONFIG
    if not resume or not cfg_path.is_file():
        manifest.write_text("")
        done_path.write_text("")
        return {}
    try:
        old = json.loads(cfg_path.read_text())
    except ValueError:
        raise FakelensError("unreadable; pass --no-resume to start over", cfg_path) from None
    changed = [k for k in _RESUME_KEYS if old.get(k) != config[k]]
    if changed:
        raise FakelensError(
            f"was prepared with other settings ({', '.join(changed)}); pass --no-resume or another --out", out
        )
    entries = _read_jsonl(done_path)
    done = {e["video_id"]: e for e in entries if current.get(e["video_id"]) == e["source"]}
    gone = len({e["video_id"] for e in entries}) - len(done)
    if gone:
        notes.append(
            f"{gone} item(s) of an earlier run are no longer in SRC: their manifest rows were dropped "
            "(their crop files stay under faces/)"
        )
        done_path.write_text("".join(json.dumps(e) + "\n" for e in done.values()))
    rows = [r for r in _read_jsonl(manifest) if r.get("video_id") in done]
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(manifest)
    return done


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by an interruption: its item is redone
    return out


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=Console(stderr=True), disable=not enabled)


def _run(
    todo: list[Item], out: Path, frames: int, max_faces: int, face: FaceConfig, workers: int
) -> Iterator:
    args = (str(out), frames, max_faces, face.to_dict())
    if workers <= 1 or len(todo) <= 1:
        _init(*args)
        yield from map(_process, todo)
        return
    # spawn, not fork: OpenCV's and dlib's thread pools do not survive a fork reliably.
    with mp.get_context("spawn").Pool(min(workers, len(todo)), initializer=_init, initargs=args) as pool:
        yield from pool.imap_unordered(_process, todo, chunksize=1)


def _finish(out, items, done, errors, notes, *, faces) -> PrepareSummary:
    faceless = [
        {"video_id": e["video_id"], "source": e["source"], **f} for e in done.values() for f in e["faceless"]
    ]
    no_face = sorted(e["video_id"] for e in done.values() if e["faces"] == 0)
    item_notes = [f"{e['video_id']}: {n}" for e in done.values() for n in e.get("notes", [])]
    report = {
        "items": len(items),
        "complete": len(done),
        "errors": errors,
        "items_without_face": no_face,
        "faceless_frames": faceless,
        "notes": notes + item_notes,
    }
    (out / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    per_split: dict[str, dict[str, int]] = {}
    videos: dict[str, set] = {}
    for row in _read_jsonl(out / MANIFEST):
        counts = per_split.setdefault(row["split"], {"real": 0, "fake": 0, "videos": 0})
        counts["fake" if row["label"] else "real"] += 1
        videos.setdefault(row["split"], set()).add(row["video_id"])
    for split, vids in videos.items():
        per_split[split]["videos"] = len(vids)
    return PrepareSummary(
        out=out,
        items=len(items),
        processed=0,
        resumed=0,
        faces=faces,
        faceless_frames=len(faceless),
        errors=len(errors),
        per_split=dict(sorted(per_split.items())),
        notes=report["notes"],
    )


# --- worker side ----------------------------------------------------------------------------------

_STATE: dict = {}


def _init(out: str, frames: int, max_faces: int, face: dict) -> None:
    """Once per worker: its own pipeline (detectors are not shared across processes)."""
    import cv2

    from fakelens.faces.pipeline import FacePipeline

    cv2.setNumThreads(1)  # the workers are the parallelism
    _STATE.update(
        out=Path(out), frames=frames, max_faces=max_faces, pipe=FacePipeline(FaceConfig.from_dict(face))
    )


def _safe_id(video_id: str) -> Path:
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "_", p) for p in video_id.split("/")]
    return Path(*[p if p.strip(".") else "_" for p in parts])


def _process(item: Item) -> dict:
    """All faces of one item; any failure becomes the item's one-line error, never a crash."""
    res = {"video_id": item.video_id, "source": str(item.source), "rows": [], "faceless": [], "notes": []}
    res.update(frames=0, error=None)
    try:
        masks = _MaskReader(item.mask, res["notes"]) if item.mask is not None else None
        for index, time_s, source, image in _frames(item, _STATE["frames"]):
            res["frames"] += 1
            if isinstance(image, FakelensError):
                res["faceless"].append({"frame": index, "time_s": time_s, "reason": image.reason})
                continue
            mask = masks.get(index, source) if masks is not None else None
            rows = _faces(item, index, time_s, source, image, mask)
            if not rows:
                res["faceless"].append({"frame": index, "time_s": time_s, "reason": "no face found"})
            res["rows"] += rows
    except FakelensError as err:
        res.update(rows=[], error=err.reason)
    except Exception as err:  # noqa: BLE001 - one odd file must not stop the batch
        res.update(rows=[], error=f"unexpected {type(err).__name__}: {' '.join(str(err).split())}")
    return res


def _frames(item: Item, count: int) -> Iterator[tuple[int, float | None, Path, np.ndarray | FakelensError]]:
    from fakelens.media import load_image, sample_frames

    if item.kind == "video":
        for f in sample_frames(item.source, num_frames=count):
            yield f.index, round(f.time_s, 4), item.source, f.image
    elif item.kind == "image":
        yield 0, None, item.source, load_image(item.source)
    else:
        files = frame_files(item.source)
        if not files:
            raise FakelensError("frames folder holds no images", item.source)
        for i in frames_folder_indices(len(files), count):
            try:
                image = load_image(files[i])
            except FakelensError as err:
                image = err
            yield i, None, files[i], image


def frames_folder_indices(n: int, count: int) -> list[int]:
    """``count`` of ``n`` frames, each the middle of its equal share (all ``n`` when n <= count)."""
    m = min(n, count)
    return [(2 * k + 1) * n // (2 * m) for k in range(m)]


class _MaskReader:
    """Mask frames at the source's frame indices: a mask video decoded in order, or a frames folder."""

    def __init__(self, path: Path, notes: list[str]):
        self.path, self.notes, self._frames, self._last = path, notes, None, None

    def get(self, index: int, source: Path) -> np.ndarray | None:
        from fakelens.media import load_image, sample_frames

        try:
            if self.path.is_dir():
                f = self.path / source.name
                image = load_image(f) if f.is_file() else None
            else:
                if self._frames is None:
                    self._frames = sample_frames(self.path, every=1)
                while self._last is None or self._last.index < index:
                    self._last = next(self._frames)
                image = self._last.image if self._last.index == index else None
        except (FakelensError, StopIteration) as err:
            reason = getattr(err, "reason", "mask video ends before this frame")
            self.notes.append(f"mask frame {index}: {reason}")
            return None
        if image is None:
            self.notes.append(f"mask frame {index}: missing")
            return None
        return image.max(axis=2)


def _faces(item, index, time_s, source, image, mask) -> list[dict]:
    import cv2

    from fakelens.faces.landmarks import landmarks68

    pipe = _STATE["pipe"]
    faces = pipe.extract(image)
    if mask is not None and mask.shape[:2] != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    if mask is not None and faces:
        # the manipulated face is the one the mask covers most (DFD, multi-person FF++ frames)
        on = mask > MASK_THRESHOLD
        cover = [
            on[int(f.face.box[1]) : int(f.face.box[3]) + 1, int(f.face.box[0]) : int(f.face.box[2]) + 1].sum()
            for f in faces
        ]
        order = sorted(range(len(faces)), key=lambda k: -cover[k])  # stable: ties keep largest first
        faces = [faces[k] for k in order]
    rows = []
    size = pipe.config.crop.size
    rel = _safe_id(item.video_id)
    for k, face in enumerate(faces[: _STATE["max_faces"]]):
        name = f"{index:06d}.png" if k == 0 else f"{index:06d}_{k}.png"
        crop_rel = Path("faces") / rel / name
        _write_png(_STATE["out"] / crop_rel, cv2.cvtColor(face.crop, cv2.COLOR_RGB2BGR))
        mask_rel = None
        if mask is not None:
            warped = cv2.warpAffine(mask, face.matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
            mask_rel = Path("masks") / rel / name
            _write_png(_STATE["out"] / mask_rel, np.where(warped > MASK_THRESHOLD, 255, 0).astype(np.uint8))
        lm = landmarks68(face.crop, pipe.config.crop)
        rows.append(
            {
                "path": crop_rel.as_posix(),
                "label": item.label,
                "dataset": item.dataset,
                "method": item.method,
                "video_id": item.video_id,
                "frame": index,
                "time_s": time_s,
                "face": k,
                "box": [round(float(v), 1) for v in face.face.box],
                "split": item.split,
                "group": item.group,
                "source": str(source),
                "landmarks": np.round(lm, 1).tolist(),
                "mask": None if mask_rel is None else mask_rel.as_posix(),
                "aligned": pipe.config.fingerprint(),
            }
        )
    return rows


def _write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise FakelensError("cannot write image (disk full or no permission?)", path)
