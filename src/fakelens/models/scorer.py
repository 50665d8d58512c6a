"""What every scoring backend answers: the ``Scorer`` protocol, plus the few plain helpers they share.

PyTorch (``TorchScorer``), ONNX Runtime (``OnnxScorer``) and test-time adaptation
(``AttentionConsistencyTTA``) each implement it on their own; none subclasses another, so callers
check ``isinstance(x, Scorer)`` (or just call the methods) instead of asking for one backend's class.
This module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from fakelens.errors import FakelensError

VIDEO_KINDS = ("video", "animation")  # media kinds scored by the track rule, with a video combination

if TYPE_CHECKING:
    from fakelens.faces.pipeline import FaceConfig
    from fakelens.preprocess import Preprocess


@runtime_checkable
class Scorer(Protocol):
    """Scores aligned face crops made with ``face`` (alias ``framing``) and fed through ``preprocess``.

    ``predict_proba(crops, kind="image")``: p(fake) per crop, float32, shape (N,); a crop is called
    fake when ``p >= threshold``. ``kind`` is the media kind the crops come from (``VIDEO_KINDS``:
    faces of a video or an animation; anything else: a photo or an aligned crop): a model with a
    video combination (an ensemble fitted on video faces too) scores video faces with it.
    ``features(crops)``: the (N, D) vector the head sees (pooled features; an ensemble's member
    logits), or ``FeaturesUnavailable`` where the backend cannot give it.
    ``backend``: ``"torch"`` or ``"onnx"``, what runs ``predict_proba``. Heat maps additionally need
    ``can_explain`` and ``model`` (a torch module with ``forward_features``/``forward_head``).
    """

    name: str
    config: dict
    preprocess: Preprocess
    face: FaceConfig
    threshold: float
    batch_size: int
    backend: str

    @property
    def framing(self) -> FaceConfig: ...

    def predict_proba(self, crops: list[np.ndarray], kind: str = "image") -> np.ndarray: ...

    def features(self, crops: list[np.ndarray]) -> np.ndarray: ...


class FeaturesUnavailable(FakelensError, NotImplementedError):
    """A one-line error: this scorer cannot give features (say which and why)."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"no features from this model: {reason}", name, verb="cannot take features from")


def batched(
    crops: list[np.ndarray],
    batch_size: int,
    run: Callable[[list[np.ndarray], int], np.ndarray],
    empty: tuple[int, ...] = (0,),
) -> np.ndarray:
    """``run(batch, offset)`` over consecutive batches, concatenated as float32; no crops give an
    array of shape ``empty`` (features: (0, 0), the width being unknown without a forward pass)."""
    if len(crops) == 0:
        return np.zeros(empty, dtype=np.float32)
    out = [run(crops[i : i + batch_size], i) for i in range(0, len(crops), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def predict_for_kind(scorer: Scorer, crops: list[np.ndarray], kind: str) -> np.ndarray:
    """``scorer.predict_proba(crops, kind=kind)``; a scorer written before ``kind`` existed (a
    notebook's own ``predict_proba(crops)``) is called as it was: it has one combination for all."""
    try:
        takes_kind = "kind" in inspect.signature(scorer.predict_proba).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        takes_kind = False
    return scorer.predict_proba(crops, kind=kind) if takes_kind else scorer.predict_proba(crops)


def file_threshold(scorer: Scorer, kind: str) -> float:
    """The score at which a file of this ``kind`` is called fake. A video's score is a face track's
    trimmed mean, which sits well below the top of single real faces' scores, so a model may carry
    its own video threshold (config ``video_threshold``, set on validation clips by
    ``scripts/ship_model.py --video-calibrate``); without one, videos use the face threshold."""
    if kind in VIDEO_KINDS:
        value = (scorer.config or {}).get("video_threshold")
        if value is not None:
            return float(value)
    return float(scorer.threshold)


def set_threshold(scorer: Scorer, value: float) -> None:
    """One threshold for every kind of file (the user's override): drops a video threshold."""
    scorer.threshold = value
    scorer.config = {k: v for k, v in (scorer.config or {}).items() if k != "video_threshold"}


def threshold_text(scorer: Scorer) -> str:
    """``0.727``, or ``0.727 (videos 0.412)`` when videos have their own."""
    video = file_threshold(scorer, "video")
    text = f"{scorer.threshold:.3f}"
    return text if video == scorer.threshold else f"{text} (videos {video:.3f})"
