"""Perturbations: deterministic, shape-preserving, and more severe at each level; clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from fakelens.errors import FakelensError
from fakelens.forge.perturb import (
    LEVELS,
    PERTURBATIONS,
    Perturbation,
    apply_perturbation,
    list_perturbations,
    parse_perturbation,
    parse_perturbations,
    perturb_video_frames,
)


def _chroma(img: np.ndarray) -> float:
    """Mean distance of Cr/Cb from neutral grey: 0 for a grey-scale image."""
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    return float(np.abs(ycc[..., 1:] - 128).mean())


def _severity(name: str, original: np.ndarray, out: np.ndarray) -> float:
    """A quantity that must strictly grow with the level for ``name``."""
    if name == "contrast":
        return -float(out.astype(np.float64).std())
    if name == "saturation":
        return -_chroma(out)
    if name == "occlusion":
        return float((out != original).any(axis=-1).sum())  # occluded area in pixels
    return -peak_signal_noise_ratio(original, out)


@pytest.mark.parametrize("name", list_perturbations())
def test_each_perturbation_is_deterministic_shape_preserving_and_monotonic(name, astronaut):
    outs = [apply_perturbation(astronaut, f"{name}:{level}") for level in LEVELS]
    for level, out in zip(LEVELS, outs, strict=True):
        assert out.shape == astronaut.shape and out.dtype == np.uint8
        assert np.array_equal(out, apply_perturbation(astronaut, Perturbation(name, level)))
    severity = [_severity(name, astronaut, out) for out in outs]
    assert all(a < b for a, b in zip(severity, severity[1:], strict=False)), (name, severity)
    assert not np.array_equal(outs[0], astronaut)


def test_table_has_five_levels_and_a_named_parameter():
    assert len(list_perturbations()) == 9
    for name, kind in PERTURBATIONS.items():
        assert len(kind.values) == 5, name
        assert Perturbation(name, 3).params == {kind.param: kind.values[2]}
    assert Perturbation("jpeg", 3).to_dict() == {
        "name": "jpeg",
        "level": 3,
        "params": {"quality": 30},
        "spec": "jpeg:3",
    }


def test_saturation_level_5_is_grey_and_contrast_keeps_the_mean(astronaut):
    assert _chroma(apply_perturbation(astronaut, "saturation:5")) < 0.6
    low = apply_perturbation(astronaut, "contrast:5").astype(np.float64)
    assert np.allclose(low.reshape(-1, 3).mean(0), astronaut.reshape(-1, 3).mean(0), atol=1.0)


def test_random_perturbations_depend_on_seed_and_content(astronaut):
    a = apply_perturbation(astronaut, "noise:2", seed=0)
    assert not np.array_equal(a, apply_perturbation(astronaut, "noise:2", seed=1))
    shifted = np.ascontiguousarray(astronaut[:, ::-1])  # other content -> other noise
    b = apply_perturbation(shifted, "noise:2", seed=0)
    assert not np.array_equal(a[:, ::-1] - shifted, b - shifted)
    occ1 = apply_perturbation(astronaut, "occlusion:1", seed=3) != astronaut
    occ2 = apply_perturbation(astronaut, "occlusion:2", seed=3) != astronaut
    assert (occ2 | ~occ1).all()  # a higher level adds blocks to the lower level's blocks


def test_odd_sizes_and_tiny_images_work():
    img = np.random.default_rng(0).integers(0, 256, (37, 51, 3), dtype=np.uint8)
    for name in list_perturbations():
        out = apply_perturbation(img, f"{name}:5")
        assert out.shape == img.shape and out.dtype == np.uint8, name


def test_video_frames_are_encoded_as_one_clip(astronaut):
    frames = [np.ascontiguousarray(np.roll(astronaut[:301, :451], 4 * k, axis=1)) for k in range(4)]
    mild, severe = perturb_video_frames(frames, 30), perturb_video_frames(frames, 40)
    assert [f.shape for f in mild] == [f.shape for f in frames]
    assert all(np.array_equal(a, b) for a, b in zip(mild, perturb_video_frames(frames, 30), strict=True))
    psnr = lambda outs: np.mean([peak_signal_noise_ratio(f, o) for f, o in zip(frames, outs, strict=True)])  # noqa: E731
    assert psnr(mild) > psnr(severe) > 15
    with pytest.raises(ValueError, match="all frames"):
        perturb_video_frames([frames[0], astronaut], 30)


def test_bad_images_are_rejected(astronaut):
    with pytest.raises(ValueError, match="RGB uint8"):
        apply_perturbation(astronaut.astype(np.float32), "blur:1")
    with pytest.raises(ValueError, match="RGB uint8"):
        apply_perturbation(astronaut[..., 0], "blur:1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nope:9", "unknown perturbation 'nope:9': choose one of jpeg, h264"),
        ("jpeg:9", "level must be 1..5"),
        ("jpeg:0", "level must be 1..5"),
        ("jpeg:x", "level must be 1..5"),
        ("jpeg", "needs a level: jpeg:1 .. jpeg:5"),
    ],
)
def test_parse_errors_are_one_line_and_list_the_choices(text, expected):
    with pytest.raises(FakelensError) as info:
        parse_perturbation(text)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_parse_specs():
    assert parse_perturbation(" JPEG:3 ") == Perturbation("jpeg", 3)
    assert str(parse_perturbation("h264:5")) == "h264:5"
    assert len(parse_perturbations("jpeg")) == 5
    assert len(parse_perturbations("all")) == 45
    assert parse_perturbations("all:2") == [Perturbation(n, 2) for n in list_perturbations()]
    assert parse_perturbations("blur:1,noise", levels=(2, 4)) == [
        Perturbation("blur", 1),
        Perturbation("noise", 2),
        Perturbation("noise", 4),
    ]
    for bad in ("nope", "all:7", "", "jpeg,nope:1"):
        with pytest.raises(FakelensError):
            parse_perturbations(bad)
    with pytest.raises(FakelensError):
        Perturbation("jpeg", 6)
