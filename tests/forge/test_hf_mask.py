from __future__ import annotations

import numpy as np
import pytest

from fakelens.forge import mask_high_frequency, mask_high_frequency_pair
from fakelens.forge.hf_mask import high_pass


@pytest.fixture(scope="module")
def image(astronaut):
    return np.ascontiguousarray(astronaut[100:324, 120:344])


@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_drops_the_requested_fraction_of_high_pass_pixels(image, rate):
    r = mask_high_frequency(image, np.random.default_rng(0), drop=rate)
    assert r.image.dtype == np.float32 and r.image.shape == image.shape
    assert r.dropped.shape == image.shape[:2] and r.dropped.mean() == pytest.approx(rate, abs=0.01)
    x, x_h = image.astype(np.float32), high_pass(image)
    np.testing.assert_allclose(r.image[~r.dropped], x[~r.dropped], atol=1e-3)  # kept: the image itself
    np.testing.assert_allclose(r.image[r.dropped], (x - x_h)[r.dropped], atol=1e-3)  # dropped: low part only
    assert x_h[r.dropped].mean() > 1  # something was really dropped


def test_signed_high_pass_leaves_exactly_the_low_pass(image):
    r = mask_high_frequency(image, np.random.default_rng(0), drop=1.0, absolute=False)
    spec = np.fft.fftshift(np.fft.fft2(r.image, axes=(0, 1)), axes=(0, 1))
    c = image.shape[0] // 2
    energy = np.abs(spec) ** 2
    # only the 10x10 low-frequency square is left (with its mirror image: the real part of the
    # inverse FFT symmetrises the spectrum, so indices -5..4 become -5..5)
    inside = energy[c - 5 : c + 6, c - 5 : c + 6].sum()
    assert energy.sum() - inside < 1e-5 * energy.sum()


def test_seed_and_pairing(image):
    a = mask_high_frequency(image, np.random.default_rng(7))
    b = mask_high_frequency(image, np.random.default_rng(7))
    c = mask_high_frequency(image, np.random.default_rng(8))
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.dropped, c.dropped)
    assert 0.3 <= a.dropped.mean() <= 0.5
    mask = np.zeros(image.shape[:2], np.float32)
    real, fake = mask_high_frequency_pair(image, image[::-1].copy(), mask, np.random.default_rng(1))
    assert np.array_equal(real.dropped, fake.dropped) and fake.mask is mask and real.mask is None
    assert real.to_uint8().dtype == np.uint8
