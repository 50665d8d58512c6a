"""Faces: detect (YuNet), align to a template, crop; 68-point landmarks for training forgeries."""

from fakelens.faces.align import AlignedFace, CropSpec, align_face, transform_points
from fakelens.faces.detect import DetectedFace, YuNetDetector
from fakelens.faces.pipeline import FaceConfig, FacePipeline

__all__ = [
    "AlignedFace",
    "CropSpec",
    "DetectedFace",
    "FaceConfig",
    "FacePipeline",
    "YuNetDetector",
    "align_face",
    "transform_points",
]
