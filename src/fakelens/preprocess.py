"""Crop -> network input, identical in training and inference.

A leaf module (NumPy and OpenCV; torch only when a tensor is asked for), so the data layer and every
scorer backend share one definition without importing the models layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Preprocess:
    """Resize with INTER_AREA, scale to [0, 1], normalise with ``mean``/``std``."""

    input_size: int = 128
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self):  # config.json gives lists; tuples keep it hashable and comparable
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    def resize(self, crop: np.ndarray) -> np.ndarray:
        if crop.shape[0] == self.input_size and crop.shape[1] == self.input_size:
            return crop
        return cv2.resize(crop, (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)

    def normalize(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, H, W, 3) float32 network input, in NumPy (ONNX Runtime needs no torch op here)."""
        arr = np.stack([self.resize(c) for c in crops]).astype(np.float32) / 255.0
        return (arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_tensor(self, crops: list[np.ndarray]):
        """(N, 3, H, W) channels-last torch tensor, for the PyTorch backend and training."""
        import torch

        arr = self.normalize(crops)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
