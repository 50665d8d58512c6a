"""Post-forgery augmentations applied identically to a real face and its fake, so that only the
forgery differs between them (as SBI does with albumentations' ``additional_targets``)."""

from __future__ import annotations

import cv2
import numpy as np


def paired_augment(images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Flip, brightness/contrast, down-up scaling and JPEG re-compression with one draw of
    parameters for every image in ``images``."""
    flip = rng.random() < 0.5
    bc = (1 + rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1) * 255) if rng.random() < 0.3 else None
    down = rng.uniform(0.4, 0.8) if rng.random() < 0.2 else None
    quality = int(rng.integers(40, 101)) if rng.random() < 0.5 else None
    out = []
    for img in images:
        if flip:
            img = img[:, ::-1]
        if bc is not None:
            img = np.clip(img.astype(np.float32) * bc[0] + bc[1], 0, 255).astype(np.uint8)
        if down is not None:
            h, w = img.shape[:2]
            small = cv2.resize(
                img, (max(int(w * down), 1), max(int(h * down), 1)), interpolation=cv2.INTER_AREA
            )
            img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if quality is not None:
            ok, buf = cv2.imencode(
                ".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
            )
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        out.append(np.ascontiguousarray(img))
    return out
