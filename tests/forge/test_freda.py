from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces.landmarks import landmarks68
from fakelens.forge import face_swap, freda_forgery, freda_mix
from fakelens.forge.freda import frequency_split, lowpass_mask


@pytest.fixture(scope="module")
def swap(face_pipeline, astronaut):
    """An easy fake: the astronaut's face, recoloured and shifted, swapped onto herself."""
    crop = face_pipeline.extract(astronaut)[0].crop
    lm = landmarks68(crop, face_pipeline.config.crop)
    move = np.array([[1, 0, 6], [0, 1, -4]], np.float32)
    other = cv2.warpAffine(crop, move, crop.shape[1::-1], borderMode=cv2.BORDER_REFLECT)[
        ..., ::-1
    ]  # BGR swap
    other_lm = lm + move[:, 2]
    return face_swap(np.ascontiguousarray(other), other_lm, crop, lm, np.random.default_rng(1))


def test_low_frequencies_come_from_the_real_and_high_from_the_fake(swap):
    cut = 0.1
    out = freda_mix(swap.fake, swap.target, swap.mask, cut)
    low_out, high_out = frequency_split(out.fake, cut)
    low_real, high_real = frequency_split(swap.target, cut)
    low_fake, high_fake = frequency_split(swap.fake, cut)
    assert np.abs(low_out - low_real).mean() < 0.5  # uint8 rounding and clipping only
    assert np.abs(high_out - high_fake).mean() < 0.8
    assert np.abs(low_fake - low_real).mean() > 5 * np.abs(low_out - low_real).mean()  # they differed before


def test_mask_passes_through_and_far_outside_is_nearly_unchanged(swap):
    out = freda_mix(swap.fake, swap.target, swap.mask, 0.1)
    assert out.mask is swap.mask and np.array_equal(out.target, swap.target)
    diff = np.abs(out.fake.astype(int) - swap.target.astype(int)).max(axis=2)
    far = cv2.distanceTransform((swap.mask < 1e-3).astype(np.uint8), cv2.DIST_L2, 3) > 20
    assert diff[far].mean() < 2.5  # the ideal filter rings a little beyond the face, nothing more
    assert diff[swap.mask > 0.5].mean() > 5 * diff[far].mean()  # the forgery is still inside the mask
    assert 0.1 < (swap.mask > 0.5).mean() < 0.7


def test_seeded_radius(swap):
    a = freda_forgery(swap, np.random.default_rng(0))
    b = freda_forgery(swap, np.random.default_rng(0))
    c = freda_forgery(swap, np.random.default_rng(1))
    assert np.array_equal(a.fake, b.fake) and not np.array_equal(a.fake, c.fake)


def test_cutoff_is_a_disc_of_the_requested_radius():
    m = lowpass_mask((64, 80), 0.25)  # radius 8 frequency bins
    assert m[0, 0] and m[8, 0] and m[0, -8] and not m[9, 0] and not m[6, 6]
    assert m.sum() == pytest.approx(np.pi * 8**2, rel=0.15)
    with pytest.raises(ValueError):
        lowpass_mask((8, 8), 0)
