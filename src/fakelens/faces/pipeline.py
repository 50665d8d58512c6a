"""Image -> aligned face crops: the one path shared by training, evaluation and scanning."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from fakelens.faces.align import AlignedFace, CropSpec, align_face, transform_points
from fakelens.faces.detect import DetectedFace, YuNetDetector


@dataclass(frozen=True)
class FaceConfig:
    """Everything that decides which pixels a detector model sees; saved in each checkpoint."""

    detector: str = "yunet"
    score_threshold: float = 0.6
    min_face: int = 32
    max_faces: int = 8
    detect_max_side: int = 640
    # A tight face crop (the face fills the frame) defeats detectors trained on scenes; when
    # nothing is found we retry once on the image padded by this fraction on every side.
    pad_retry: float = 0.35
    # YuNet's 5 points are biased towards upright faces (a face rolled 25 degrees comes out rolled
    # ~18 degrees). Each refinement pass re-aligns with 5 points derived from dlib's 68 landmarks.
    refine: int = 1
    crop: CropSpec = field(default_factory=CropSpec)

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        """Short id of the crop framing. ``prepare`` and ``synth`` write it on every crop they make,
        so evaluation can score a crop as is when the model frames faces the same way, instead of
        detecting and warping it a second time. ``max_faces`` is left out: it changes how many
        faces are kept, not their pixels."""
        framing = {k: v for k, v in self.to_dict().items() if k != "max_faces"}
        return hashlib.sha1(json.dumps(framing, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict) -> FaceConfig:
        data = dict(data)
        crop = CropSpec(**data.pop("crop", {}))
        return cls(crop=crop, **data)


class FacePipeline:
    """Detect faces and align each one to the crop spec; largest faces first."""

    def __init__(self, config: FaceConfig | None = None):
        self.config = config or FaceConfig()
        if self.config.detector != "yunet":
            raise ValueError(f"unknown face detector {self.config.detector!r} (known: 'yunet')")
        self.detector = YuNetDetector(
            score_threshold=self.config.score_threshold,
            max_side=self.config.detect_max_side,
            min_face=self.config.min_face,
        )

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        return self.detect_all(image)[: self.config.max_faces]

    def detect_all(self, image: np.ndarray, second_look: bool = True) -> list[DetectedFace]:
        """Every face found, largest first (``max_faces`` not applied: a scan counts what it drops).

        A large picture with no face at the detection size gets a second look at up to 4x that size:
        a 100 px face in a 4000 px photo is 16 px at 640, too small for the detector, 64 px at 2560.
        It costs ~15x the first pass (a 1080p frame: ~12 -> ~180 ms), so a scan asks for it on
        stills only, not on every faceless video frame (``second_look=False``)."""
        faces = self.detector.detect(image)
        if not faces and self.config.pad_retry > 0:
            faces = self._detect_padded(image)
        longest, first = max(image.shape[:2]), self.config.detect_max_side
        if not faces and second_look and longest > 2 * first:
            faces = self.detector.detect(image, max_side=min(longest, 4 * first))
        return faces

    def _detect_padded(self, image: np.ndarray) -> list[DetectedFace]:
        h, w = image.shape[:2]
        pad = round(self.config.pad_retry * max(h, w))
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        out = []
        for f in self.detector.detect(padded):
            x0, y0, x1, y1 = (v - pad for v in f.box)
            box = (max(x0, 0.0), max(y0, 0.0), min(x1, float(w)), min(y1, float(h)))
            out.append(DetectedFace(box=box, points5=f.points5 - pad, confidence=f.confidence))
        return out

    def extract(self, image: np.ndarray) -> list[AlignedFace]:
        """Aligned crops of every face (up to ``max_faces``) in an RGB uint8 image."""
        return self.align(image, self.detect(image))

    def align(self, image: np.ndarray, faces: list[DetectedFace]) -> list[AlignedFace]:
        """Aligned crops of the given detections."""
        out = []
        for face in faces:
            aligned = align_face(image, face, self.config.crop)
            for _ in range(self.config.refine):
                aligned = self._refine(image, aligned)
            out.append(aligned)
        return out

    def _refine(self, image: np.ndarray, aligned: AlignedFace) -> AlignedFace:
        from fakelens.faces.landmarks import landmarks68

        lm = landmarks68(aligned.crop, self.config.crop)
        pts = np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])
        pts = transform_points(pts, cv2.invertAffineTransform(aligned.matrix)).astype(np.float32)
        face = DetectedFace(box=aligned.face.box, points5=pts, confidence=aligned.face.confidence)
        return align_face(image, face, self.config.crop)
