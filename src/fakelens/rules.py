"""How face scores become a frame score and frame scores a file score: the one place the rule lives.

``scan``, ``serve``, ``evaluate`` (and the protocols and robustness runs built on it) all call these
functions, so a video's score in a scan report is the score its video-level metrics were computed on.
A leaf module (numpy and the standard library only) so that every layer may import it.

- a face's score is the detector's p(fake) for its aligned crop;
- a frame's score is the **max over its faces** (one forged face makes the frame forged);
- an image's score is its frame score;
- a video's faces are linked across the sampled frames into **face tracks** (box overlap or nearby
  centres, gaps of up to four frames-with-a-face allowed); a track's score is the **20 %-trimmed mean
  of its face scores** (robust to a few misdetections or motion-blurred frames, unlike the max); the
  video's score is the **max over its tracks** seen in at least a quarter of the frames with a face
  and in at least two of them, so a swap on one of two people is not averaged away by the other, and
  a face seen in a single frame (a misdetection) cannot decide when more than one frame has a face;
  when no track is that long (faces jumping between far-apart samples), the frame rule decides:
  the trimmed mean over frames of the max over faces.

Tracks are linked by boxes only: no identity embedding, so two people who cross paths may swap
tracks (their frames then mix, as the per-frame max did before tracks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

DEFAULT_TRIM = 0.2
FRAME_RULE = "max over faces"  # a frame's score from its faces
IMAGE_RULE = FRAME_RULE  # an image is one frame
# --whole-image: a generated portrait is a whole-image fake, so the picture itself is scored too
WHOLE_IMAGE_RULE = "the higher of the face's score and the whole picture's (one-face images)"
VIDEO_RULE = "max over face tracks of the 20%-trimmed mean of the track's face scores"
TRACK_MIN_SHARE = 0.25  # of the frames with a face: shorter tracks do not decide (misdetections)
TRACK_MAX_GAP = 4  # frames with a face that a track may miss and still continue
TRACK_MIN_IOU = 0.2


class _ScoredFace(Protocol):
    frame: int
    time_s: float
    score: float


class _TrackedFace(Protocol):
    frame: int
    face: int  # index of the face in its frame
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1; None: link by face index
    score: float


def frame_scores_of(faces: Iterable[_ScoredFace]) -> dict[int, tuple[float, float]]:
    """frame index -> (time_s, frame score), sorted by frame; a frame's score is the max over its faces."""
    out: dict[int, tuple[float, float]] = {}
    for f in faces:
        if f.frame not in out or f.score > out[f.frame][1]:
            out[f.frame] = (f.time_s, f.score)
    return dict(sorted(out.items()))


def trimmed_mean(values, trim: float) -> float:
    """Mean after cutting ``floor(trim * n)`` values from each end (the median when nothing is left)."""
    v = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    if not v.size:
        raise ValueError("trimmed_mean of no values")
    k = int(np.floor(trim * len(v)))
    if len(v) - 2 * k <= 0:
        return float(np.median(v))
    return float(v[k : len(v) - k].mean())


def video_score(frame_scores, trim: float = DEFAULT_TRIM) -> float:
    """The trimmed mean of a sequence of scores: of one face track's faces (the video rule), or of
    a video's frame scores (the frame rule, the fallback)."""
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), got {trim}")
    return trimmed_mean(frame_scores, trim)


def video_rule(trim: float = DEFAULT_TRIM) -> str:
    """The label of the video rule for ``trim`` (``VIDEO_RULE`` at the default), for records and metrics."""
    if trim == DEFAULT_TRIM:
        return VIDEO_RULE
    return f"max over face tracks of the {trim * 100:g}%-trimmed mean of the track's face scores"


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _near(a, b) -> bool:
    """Centres within half the mean box side: the same face after motion between sampled frames."""
    side = 0.5 * ((a[2] - a[0]) + (a[3] - a[1]) + (b[2] - b[0]) + (b[3] - b[1])) / 2
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return (dx * dx + dy * dy) ** 0.5 <= 0.5 * side


def link_tracks(faces: list[_TrackedFace]) -> list[int]:
    """A track id (0, 1, ... in order of appearance) for each face, in the input's order.

    Frame by frame, each face joins the open track whose last box overlaps it most (IoU >= 0.2, or
    centres within half a face side), each track taking at most one face per frame; a track left
    without a face for more than ``TRACK_MAX_GAP`` frames (of those with a face) closes. Faces without a box are
    linked by their index in the frame (largest first)."""
    frames = sorted({f.frame for f in faces})
    position = {fr: k for k, fr in enumerate(frames)}
    by_frame: dict[int, list[int]] = {}
    for i, f in enumerate(faces):
        by_frame.setdefault(f.frame, []).append(i)
    out = [-1] * len(faces)
    open_tracks: list[dict] = []  # {"id", "box", "pos"}
    for fr in frames:
        members = by_frame[fr]
        pos = position[fr]
        live = [t for t in open_tracks if pos - t["pos"] <= TRACK_MAX_GAP + 1]
        pairs = []
        for i in members:
            for t in live:
                a, b = faces[i].box, t["box"]
                if a is None or b is None:
                    if a is None and b is None and t["index"] == faces[i].face:
                        pairs.append((1.0, t["id"], i))
                    continue
                iou = _iou(a, b)
                if iou >= TRACK_MIN_IOU or _near(a, b):
                    pairs.append((iou + 1e-3, t["id"], i))
        used_tracks, used_faces = set(), set()
        for _, tid, i in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if tid in used_tracks or i in used_faces:
                continue
            used_tracks.add(tid)
            used_faces.add(i)
            out[i] = tid
        for i in sorted(members, key=lambda i: faces[i].face):
            if out[i] < 0:
                out[i] = len(open_tracks)
                open_tracks.append({"id": out[i], "box": None, "pos": pos, "index": faces[i].face})
        for i in members:
            t = open_tracks[out[i]]
            t["box"], t["pos"], t["index"] = faces[i].box, pos, faces[i].face
    return out


def track_video_score(
    faces: list[_TrackedFace], trim: float = DEFAULT_TRIM
) -> tuple[float, int | None, list[int]]:
    """(video score, the deciding track or None when the frame rule decided, track id per face)."""
    if not faces:
        raise ValueError("track_video_score of no faces")
    tracks = link_tracks(faces)
    scores: dict[int, list[float]] = {}
    for t, f in zip(tracks, faces, strict=True):
        scores.setdefault(t, []).append(float(f.score))
    n_frames = len({f.frame for f in faces})
    support = max(min(2, n_frames), int(np.ceil(TRACK_MIN_SHARE * n_frames)))
    stable = [t for t, v in scores.items() if len(v) >= support]
    if not stable:  # no face followed long enough: the frame rule, over every face
        frame_max: dict[int, float] = {}
        for f in faces:
            frame_max[f.frame] = max(frame_max.get(f.frame, f.score), float(f.score))
        return video_score([frame_max[k] for k in sorted(frame_max)], trim), None, tracks
    best = max(stable, key=lambda t: (video_score(scores[t], trim), -t))
    return video_score(scores[best], trim), best, tracks
