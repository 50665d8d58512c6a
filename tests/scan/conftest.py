from __future__ import annotations

import shutil

import numpy as np
import pytest


@pytest.fixture()
def mixed_folder(tmp_path, demo_dir):
    """Photos, a clip, a corrupt file, a faceless image and a non-media file, in nested folders."""
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    shutil.copy(demo_dir / "astronaut.png", root / "photo.png")
    shutil.copy(demo_dir / "astronaut-sbi.png", root / "sub" / "photo-sbi.png")
    shutil.copy(demo_dir / "astronaut-pan.mp4", root / "clip.mp4")
    data = (demo_dir / "astronaut.png").read_bytes()
    (root / "broken.png").write_bytes(data[: len(data) // 3])
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    import cv2

    cv2.imwrite(str(root / "wall.jpg"), np.full((240, 320, 3), 90, np.uint8))
    (root / "notes.txt").write_text("not media")
    return root
