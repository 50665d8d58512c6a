"""``fakelens temporal``: train a ``TemporalHead`` over a frozen frame model's per-frame embeddings
of face tracks, and compare it on validation tracks with per-frame aggregation.

The frame model runs once per frame (its pooled pre-logit embedding and its logit are cached in
the output folder, keyed by the model folder, the manifest and the rows read, so a rerun is
instant). A manifest's rows of one ``video_id`` are one track, ordered by the frame number in the
file name (``..._f00012.png``, ``..._t03.png``; else the ``frame`` column, else manifest order).
Training sees random contiguous windows of ``frames`` frames of the ``train`` split's tracks (both
classes); the epoch is chosen on validation AUC, and the report is on the same ``val`` tracks (no
test split is read): AUC of the head, of the mean frame logit, and of the scan's rule
(``fakelens.rules``: the 20 %-trimmed mean of p(fake) over the track) on the same frames, for every
fake and per method against every real. Selecting and reporting on one small validation set flatters
the head: the per-epoch AUCs and a bootstrap interval of head - mean are in metrics.json to judge it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from safetensors.torch import save_file

from fakelens import __version__
from fakelens.data.manifest import ManifestRow, read_manifest
from fakelens.errors import ConfigError, FakelensError
from fakelens.media import load_image
from fakelens.metrics import roc_auc
from fakelens.models.checkpoint import CONFIG, WEIGHTS, build_model, parse_config, read_config
from fakelens.models.temporal import TemporalHead
from fakelens.models.torch_backend import has_features
from fakelens.rules import DEFAULT_TRIM, video_rule, video_score

HEAD_WEIGHTS = "temporal-head.safetensors"
METHODS = ("lipsync", "animate")
SCORES = ("head", "mean", "rule")  # the head, the mean frame logit, the scan's rule
_FRAME_NUMBER = re.compile(r"_[ft](\d+)$")

console = Console(stderr=True)


@dataclass(frozen=True)
class Track:
    """One face track (a ``video_id``): its frames' embeddings and logits, in frame order."""

    video_id: str
    label: int
    method: str | None
    split: str
    emb: np.ndarray  # (T, D) float32 pooled pre-logit embeddings
    logits: np.ndarray  # (T,) float32 frame logits


def select_rows(manifest: Path, exclude_groups: Iterable[str] = ()) -> list[ManifestRow]:
    """The manifest's ``train`` and ``val`` rows outside ``exclude_groups``, each with a video_id."""
    exclude = set(exclude_groups)
    rows = [
        r
        for r in read_manifest(manifest)
        if r.split in ("train", "val") and not {r.group, *r.source_groups} & exclude
    ]
    loose = [r for r in rows if not r.video_id]
    if loose:
        raise ConfigError(
            f"{len(loose)} train/val row(s) have no video_id (e.g. '{loose[0].path}')", manifest
        )
    for split in ("train", "val"):
        if {r.label for r in rows if r.split == split} != {0, 1}:
            raise ConfigError(
                f"the {split} split needs real and fake rows (after --exclude-groups)", manifest
            )
    return rows


def _stat(p: Path) -> list:
    s = p.stat()
    return [str(p.resolve()), s.st_size, s.st_mtime_ns]


def features_cache(out: Path, model_dir: Path, manifest: Path, rows: list[ManifestRow]) -> Path:
    """``out/features-<key>.npz``; the key changes with the model's files, the manifest and the rows."""
    blob = json.dumps(
        {
            "model": [_stat(model_dir / WEIGHTS), _stat(model_dir / CONFIG)],
            "manifest": _stat(manifest),
            "rows": [str(r.path) for r in rows],
            "version": __version__,
        }
    )
    return out / f"features-{hashlib.sha1(blob.encode()).hexdigest()[:16]}.npz"


def frame_features(
    model_dir: Path, rows: list[ManifestRow], cache: Path | None = None, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(N, D) pooled embeddings and (N,) logits of the rows' aligned crops, and the model's config."""
    cfg = read_config(model_dir)
    if cache is not None and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return z["emb"], z["logits"], cfg
    pre, face, _ = parse_config(cfg, model_dir)
    net = build_model(cfg, model_dir)
    if not has_features(net):
        reason = f"{type(net).__name__} has no forward_features/forward_head: no embeddings to pool"
        raise FakelensError(reason, model_dir, verb="cannot use model")
    framing = face.fingerprint()
    misframed = [r for r in rows if r.aligned != framing]
    if misframed:
        raise FakelensError(
            f"{len(misframed)} row(s) are not aligned crops in the model's framing {framing} "
            f"(e.g. '{misframed[0].path}'): prepare or synth them with this model's face config",
            model_dir,
            verb="cannot use model",
        )
    embs, logits = [], []
    with torch.inference_mode():
        for i in track(range(0, len(rows), batch_size), description="frame features", console=console):
            x = pre.to_tensor([load_image(r.path) for r in rows[i : i + batch_size]])
            feats = net.forward_features(x)
            embs.append(net.forward_head(feats, pre_logits=True).float().reshape(len(x), -1).numpy())
            logits.append(net.forward_head(feats).float().reshape(-1).numpy())
    emb, logit = np.concatenate(embs), np.concatenate(logits)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, emb=emb, logits=logit, paths=np.array([str(r.path) for r in rows]))
    return emb, logit, cfg


def _frame_number(row: ManifestRow, position: int) -> int:
    m = _FRAME_NUMBER.search(row.path.stem)
    if m:
        return int(m.group(1))
    return row.frame if row.frame is not None else position


def build_tracks(rows: list[ManifestRow], emb: np.ndarray, logits: np.ndarray) -> list[Track]:
    """One ``Track`` per video_id, its frames ordered by frame number."""
    by_video: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_video.setdefault(r.video_id, []).append(i)
    tracks = []
    for vid, idx in by_video.items():
        idx = sorted(idx, key=lambda i: (_frame_number(rows[i], i), i))
        if len({(rows[i].label, rows[i].split) for i in idx}) > 1:
            raise ConfigError(f"video_id '{vid}' has rows of more than one label or split")
        r = rows[idx[0]]
        tracks.append(Track(vid, r.label, r.method, r.split, emb[idx], logits[idx].astype(np.float32)))
    return tracks


def pad(windows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, T, D) embeddings, (B, T) logits and (B, T) mask, padded to the longest window."""
    t_max, dim = max(len(lg) for _, lg in windows), windows[0][0].shape[1]
    emb = np.zeros((len(windows), t_max, dim), np.float32)
    logits = np.zeros((len(windows), t_max), np.float32)
    mask = np.zeros((len(windows), t_max), bool)
    for k, (e, lg) in enumerate(windows):
        emb[k, : len(lg)], logits[k, : len(lg)], mask[k, : len(lg)] = e, lg, True
    return torch.from_numpy(emb), torch.from_numpy(logits), torch.from_numpy(mask)


def central_window(t: Track, frames: int) -> tuple[np.ndarray, np.ndarray]:
    start = max(0, (len(t.logits) - frames) // 2)
    return t.emb[start : start + frames], t.logits[start : start + frames]


def track_scores(head: TemporalHead, tracks: list[Track], frames: int | None = None) -> dict[str, np.ndarray]:
    """Scores of each track by the head, the mean frame logit and the scan's rule, on the same frames:
    all of the track's, or its central ``frames``."""
    windows = [central_window(t, frames) if frames else (t.emb, t.logits) for t in tracks]
    head.eval()
    with torch.inference_mode():
        scores = head(*pad(windows)).numpy()
    return {
        "head": scores.astype(np.float64),
        "mean": np.array([float(lg.mean()) for _, lg in windows]),
        "rule": np.array(
            [video_score(1 / (1 + np.exp(-lg.astype(np.float64))), DEFAULT_TRIM) for _, lg in windows]
        ),
    }


def _loss(head: TemporalHead, windows, labels: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(
        head(*pad(windows)), labels, pos_weight=pos_weight
    )


def fit_head(
    train: list[Track],
    val: list[Track],
    *,
    frames: int = 8,
    epochs: int = 30,
    seed: int = 0,
    width: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    windows_per_track: int = 4,
    batch_size: int = 32,
) -> tuple[TemporalHead, dict]:
    """Train on random contiguous windows of ``frames`` frames (fakes weighted to balance the
    classes), keep the epoch of the best validation AUC (ties: lower validation loss)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = TemporalHead(train[0].emb.shape[1], width)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    y = np.array([t.label for t in train], np.float32)
    pos_weight = torch.tensor((y == 0).sum() / max(1.0, (y == 1).sum()))
    y_val = np.array([t.label for t in val])
    val_windows = [(t.emb, t.logits) for t in val]
    history, best = [], None
    for epoch in range(1, epochs + 1):
        head.train()
        order = rng.permutation(np.repeat(np.arange(len(train)), windows_per_track))
        losses = []
        for i in range(0, len(order), batch_size):
            chosen = order[i : i + batch_size]
            batch = []
            for k in chosen:
                t = train[k]
                n = min(frames, len(t.logits))
                start = int(rng.integers(0, len(t.logits) - n + 1))
                batch.append((t.emb[start : start + n], t.logits[start : start + n]))
            loss = _loss(head, batch, torch.from_numpy(y[chosen]), pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        head.eval()
        with torch.inference_mode():
            val_loss = float(_loss(head, val_windows, torch.from_numpy(y_val.astype(np.float32)), pos_weight))
        auc = roc_auc(y_val, track_scores(head, val)["head"])
        history.append(
            {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss, "val_auc": auc}
        )
        key = (-np.inf if np.isnan(auc) else auc, -val_loss)
        if best is None or key > best[0]:
            best = (key, epoch, copy.deepcopy(head.state_dict()))
    head.load_state_dict(best[2])
    head.eval()
    return head, {"best_epoch": best[1], "history": history}


def auc_table(tracks: list[Track], scores: dict[str, np.ndarray]) -> dict[str, dict]:
    """AUC of each score for every fake vs every real, and per method vs every real."""
    labels = np.array([t.label for t in tracks])
    methods = np.array([t.method or "" for t in tracks])
    out = {}
    for name in ("all", *METHODS):
        keep = (labels == 0) | ((labels == 1) & ((methods == name) if name != "all" else True))
        row = {"n_real": int((labels[keep] == 0).sum()), "n_fake": int((labels[keep] == 1).sum())}
        for s in SCORES:
            auc = roc_auc(labels[keep], scores[s][keep])
            row[s] = None if np.isnan(auc) else auc
        out[name] = row
    return out


def bootstrap_delta(
    labels: np.ndarray, head: np.ndarray, base: np.ndarray, seed: int, reps: int = 1000
) -> dict:
    """AUC(head) - AUC(base), with a 95 % interval from a paired bootstrap within each class."""
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)

    def auc(s: np.ndarray, r: np.ndarray, f: np.ndarray) -> float:  # pairwise: fast for a few hundred
        diff = s[f][:, None] - s[r][None, :]
        return float((diff > 0).mean() + 0.5 * (diff == 0).mean())

    deltas = []
    for _ in range(reps):
        r, f = rng.choice(real, len(real)), rng.choice(fake, len(fake))
        deltas.append(auc(head, r, f) - auc(base, r, f))
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    return {
        "delta": roc_auc(labels, head) - roc_auc(labels, base),
        "ci95": [float(lo), float(hi)],
        "reps": reps,
    }


def train_temporal_head(
    model_dir: str | Path,
    manifest: str | Path,
    out: str | Path,
    *,
    frames: int = 8,
    epochs: int = 30,
    seed: int = 0,
    exclude_groups: Iterable[str] = (),
    width: int = 64,
    threads: int = 1,
) -> dict:
    """Extract (or reuse) frame features, train the head, write ``out/temporal-head.safetensors``,
    ``out/config.json`` and ``out/metrics.json``; returns the metrics."""
    model_dir, manifest, out = Path(model_dir), Path(manifest), Path(out)
    if not 2 <= frames <= 64:
        raise ConfigError(f"frames must be in 2..64, got {frames}")
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    exclude_groups = sorted(set(exclude_groups))
    rows = select_rows(manifest, exclude_groups)
    cache = features_cache(out, model_dir, manifest, rows)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # back as it was afterwards: a library call, not a process
    try:
        start = time.perf_counter()
        emb, logits, cfg = frame_features(model_dir, rows, cache)
        feature_s = time.perf_counter() - start
        tracks = build_tracks(rows, emb, logits)
        train = [t for t in tracks if t.split == "train"]
        val = [t for t in tracks if t.split == "val"]
        start = time.perf_counter()
        head, fit = fit_head(train, val, frames=frames, epochs=epochs, seed=seed, width=width)
        train_s = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)

    y_val = np.array([t.label for t in val])
    scores = track_scores(head, val)
    metrics = {
        "val": auc_table(val, scores),
        "val_central_window": auc_table(val, track_scores(head, val, frames)),
        "head_minus_mean": bootstrap_delta(y_val, scores["head"], scores["mean"], seed),
        "head_minus_rule": bootstrap_delta(y_val, scores["head"], scores["rule"], seed),
        "scores": {"head": "the temporal head's logit", "mean": "mean frame logit", "rule": video_rule()},
        "val_frames": "every frame of each track (val_central_window: its central `frames` frames)",
        "tracks": {
            split: {
                m or "real": sum(1 for t in tracks if t.split == split and t.method == m)
                for m in (None, *METHODS)
            }
            for split in ("train", "val")
        },
        "best_epoch": fit["best_epoch"],
        "history": fit["history"],
        "seconds": {"features": round(feature_s, 1), "training": round(train_s, 1)},
        "features_cache": cache.name,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(out / HEAD_WEIGHTS))
    config = {
        "kind": "temporal-head",
        "frame_model": cfg.get("name", model_dir.name),
        "frame_model_dir": str(model_dir.resolve()),
        "frame_architecture": cfg.get("architecture"),
        "dim": int(emb.shape[1]),
        "frames": frames,
        "head": {
            "width": head.width,
            "kernel": head.kernel,
            "parameters": sum(p.numel() for p in head.parameters()),
        },
        "options": {
            "manifest": str(manifest.resolve()),
            "epochs": epochs,
            "seed": seed,
            "exclude_groups": exclude_groups,
            "threads": threads,
        },
        "best_epoch": fit["best_epoch"],
        "val_auc": metrics["val"]["all"]["head"],
        "fakelens_version": __version__,
    }
    (out / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
