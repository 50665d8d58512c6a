"""Training-test helpers: twelve 'real' astronaut photos and a tiny recipe over them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml


def write_reals(d: Path, astronaut: np.ndarray) -> Path:
    """Twelve 'real' photos: the astronaut shifted, scaled and flipped (one identity is enough
    to exercise the recipe), plus one faceless image that must be reported, not dropped."""
    h, w = astronaut.shape[:2]
    for i in range(12):
        s = 0.6 + 0.03 * i
        m = np.array([[s, 0, 20 * (i % 4)], [0, s, 10 * (i % 3)]], dtype=np.float32)
        img = cv2.warpAffine(astronaut, m, (int(w * 0.8), int(h * 0.8)), borderMode=cv2.BORDER_REFLECT)
        if i % 2:
            img = img[:, ::-1]
        cv2.imwrite(str(d / f"face_{i:02d}.png"), np.ascontiguousarray(img[..., ::-1]))
    cv2.imwrite(str(d / "blank.png"), np.full((200, 200, 3), 127, np.uint8))
    return d


def write_config(tmp_path, real_dir, **train_overrides):
    cfg = {
        "name": "tiny-test",
        "out_dir": str(tmp_path / "run"),
        "model": {"architecture": "tiny-cnn", "pretrained": False, "input_size": 64, "drop_rate": 0.0},
        "data": {
            "real_dirs": [str(real_dir)],
            "val_fraction": 0.3,
            "test_fraction": 0.0,
            "cache_dir": str(tmp_path / "cache"),
        },
        "train": {
            "epochs": 2,
            "pairs_per_batch": 4,
            "lr": 0.003,
            "patience": 5,
            "num_workers": 0,
            **train_overrides,
        },
        "face": {"crop": {"size": 96}},
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
