from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.align import transform_points
from fakelens.forge import paste_crop


@pytest.fixture(scope="module")
def aligned(face_pipeline, astronaut):
    return face_pipeline.extract(astronaut)[0]


def test_zero_mask_leaves_the_image_as_it_is(aligned, astronaut):
    mask = np.zeros(aligned.crop.shape[:2], np.float32)
    out, full_mask = paste_crop(astronaut, 255 - aligned.crop, mask, aligned.matrix)
    assert np.array_equal(out, astronaut)
    assert full_mask.shape == astronaut.shape[:2] and full_mask.max() == 0


def test_the_crop_lands_where_it_was_cut_and_nowhere_else(aligned, astronaut):
    side = aligned.crop.shape[0]
    mask = np.zeros((side, side), np.float32)
    mask[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] = 1
    # the crop itself goes back (almost) unchanged: a round trip through the alignment
    same, _ = paste_crop(astronaut, aligned.crop, mask, aligned.matrix)
    assert np.abs(same.astype(int) - astronaut.astype(int)).mean() < 0.5
    # a painted square shows up at the crop's centre in the photo, and only around it
    painted, full_mask = paste_crop(astronaut, np.zeros_like(aligned.crop), mask, aligned.matrix)
    changed = np.abs(painted.astype(int) - astronaut.astype(int)).max(2) > 0
    inv = cv2.invertAffineTransform(aligned.matrix)
    cx, cy = np.round(transform_points(np.array([[side / 2, side / 2]]), inv)[0]).astype(int)
    assert (painted[cy, cx] == 0).all() and full_mask[cy, cx] == pytest.approx(1)
    assert np.array_equal(changed, full_mask > 0)
    ys, xs = np.nonzero(changed)
    assert abs(xs.mean() - cx) < 2 and abs(ys.mean() - cy) < 2
    area = abs(np.linalg.det(inv[:, :2])) * (side / 2) ** 2  # the square's area in photo pixels
    assert changed.sum() == pytest.approx(area, rel=0.1)
