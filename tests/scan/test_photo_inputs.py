"""Odd still images through the user's path (``scan_paths``): each gets a verdict or one clear
``no_face``/``error`` record, and the batch goes on (issue 12's bad-input list)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fakelens.scan import scan_paths


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, astronaut) -> Path:
    root = tmp_path_factory.mktemp("photos")
    bgr = np.ascontiguousarray(astronaut[..., ::-1])
    cv2.imwrite(str(root / "scene.jpg"), bgr)  # a face in a scene
    face = astronaut[20:250, 110:330]
    cv2.imwrite(str(root / "face_only.png"), np.ascontiguousarray(face[..., ::-1]))  # the image is the face
    tiny = cv2.resize(astronaut, (48, 48), interpolation=cv2.INTER_AREA)  # the face is ~20 px: under 32
    canvas = np.full((300, 300, 3), 120, np.uint8)
    canvas[100:148, 100:148] = tiny
    cv2.imwrite(str(root / "tiny_face.png"), np.ascontiguousarray(canvas[..., ::-1]))
    Image.fromarray(astronaut).convert("CMYK").save(root / "cmyk.jpg", quality=95)
    deep = (astronaut.astype(np.uint16) * 257)[..., ::-1]  # 16 bits per channel
    cv2.imwrite(str(root / "sixteen_bit.png"), np.ascontiguousarray(deep))
    huge = np.zeros((8200, 8000), np.uint8)  # 65.6 MP: over the 64 MP limit, refused before decoding
    cv2.imwrite(str(root / "huge.png"), huge, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return root


@pytest.fixture(scope="module")
def by_name(photo_folder, tiny_detector, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "r.jsonl"
    records = scan_paths([photo_folder], out, model=tiny_detector, progress=False)
    return {Path(r.file).name: r for r in records}


def test_every_photo_gets_one_record(photo_folder, by_name):
    assert sorted(by_name) == sorted(p.name for p in photo_folder.iterdir())


@pytest.mark.parametrize("name", ["scene.jpg", "face_only.png", "cmyk.jpg", "sixteen_bit.png"])
def test_faces_get_a_verdict(by_name, name):
    rec = by_name[name]
    assert rec.verdict in ("real", "fake") and rec.faces >= 1 and rec.error is None


def test_a_face_under_32_px_is_no_face(by_name):
    rec = by_name["tiny_face.png"]
    assert (rec.verdict, rec.faces, rec.score, rec.error) == ("no_face", 0, None, None)
    assert "under 32 px" in rec.note  # the reason, in words


def test_a_huge_image_is_an_error_naming_the_limit(by_name):
    rec = by_name["huge.png"]
    assert rec.verdict == "error" and "\n" not in rec.error
    assert rec.error.startswith(f"cannot read '{rec.file}'") and "pixels" in rec.error
