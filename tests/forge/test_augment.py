"""The ``video`` paired augmentation: one draw for every image of an item, a real H.264 round trip,
seeded, and reachable from a recipe (``data.augment: video``) through SBIPairs."""

from __future__ import annotations

from dataclasses import fields, replace

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from fakelens.data.facecache import FaceSet
from fakelens.data.sbi_dataset import SBIPairs
from fakelens.faces.landmarks import landmarks68
from fakelens.forge.augment import VideoAugment, h264_round_trip, paired_augment
from fakelens.forge.sbi import self_blend
from fakelens.preprocess import Preprocess
from fakelens.train.config import DataSection

OFF = VideoAugment(**{f.name: 0.0 for f in fields(VideoAugment) if f.name.startswith("p_")})
STEPS = {  # every step of the kind alone, and all of them at once
    "flip": replace(OFF, p_flip=1),
    "exposure": replace(OFF, p_exposure=1),
    "low_light": replace(OFF, p_low_light=1),
    "blur": replace(OFF, p_blur=1),
    "noise": replace(OFF, p_noise=1),
    "down_up": replace(OFF, p_down=1),
    "h264_intra": replace(OFF, p_h264=1),
    "h264_p_frame": replace(OFF, p_h264=1, p_inter=1),
    "jpeg": replace(OFF, p_jpeg=1),
    "all": VideoAugment(**{f.name: 1.0 for f in fields(VideoAugment) if f.name.startswith("p_")}),
}


@pytest.fixture(scope="module")
def crop(astronaut):
    return np.ascontiguousarray(
        cv2.resize(astronaut[0:300, 100:400], (224, 224), interpolation=cv2.INTER_AREA)
    )


def blockiness(img: np.ndarray, block: int = 8) -> float:
    """Mean luma step across block boundaries over the mean step inside blocks (about 1 if clean)."""
    y = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    step = np.abs(np.diff(y, axis=1)).mean(0) + np.abs(np.diff(y, axis=0)).mean(1)
    edge = np.arange(step.size) % block == block - 1
    return float(step[edge].mean() / step[~edge].mean())


@pytest.mark.parametrize("step", list(STEPS))
def test_video_augment_gives_identical_images_identical_outputs(crop, step):
    """The same draw on the real and its fake: two identical images stay identical, for every step
    (an all-intra clip of both would not: x264's rate control differs frame to frame)."""
    for seed in range(3):
        a, b = paired_augment([crop, crop.copy()], np.random.default_rng(seed), "video", STEPS[step])
        assert np.array_equal(a, b)
        assert not np.array_equal(a, crop)  # the step did something


@pytest.mark.parametrize("step", ["h264_intra", "h264_p_frame", "all"])
def test_each_image_is_coded_on_its_own_not_from_its_partner(crop, step):
    """A fake must not be the P-frame of its real (one clip of the pair): every image's output is a
    function of that image and the draw alone, whatever its partner or position."""
    fake = crop.copy()
    fake[80:150, 60:160] = cv2.GaussianBlur(fake[80:150, 60:160], (0, 0), 2)
    for seed in range(3):
        real_out, fake_out = paired_augment([crop, fake], np.random.default_rng(seed), "video", STEPS[step])
        alone = paired_augment([fake], np.random.default_rng(seed), "video", STEPS[step])[0]
        swapped = paired_augment([fake, crop], np.random.default_rng(seed), "video", STEPS[step])
        assert np.array_equal(fake_out, alone)
        assert np.array_equal(swapped[0], fake_out) and np.array_equal(swapped[1], real_out)


def test_default_video_augment_keeps_pairs_identical(crop):
    for seed in range(12):
        a, b = paired_augment([crop, crop.copy()], np.random.default_rng(seed), "video")
        assert np.array_equal(a, b)


@pytest.mark.parametrize("preset", VideoAugment().presets)
def test_h264_step_really_compresses_and_a_higher_crf_loses_more(crop, preset):
    psnr = {crf: cv2.PSNR(crop, h264_round_trip(crop, crf, preset)) for crf in (18, 30, 40)}
    assert 30 < psnr[18] < 45 and psnr[18] > psnr[30] + 2 > psnr[40] + 4
    assert blockiness(h264_round_trip(crop, 40, preset)) > blockiness(crop) + 0.2  # 8x8/16x16 blocks
    p_frame = h264_round_trip(crop, 30, preset, motion=(0.01, -0.012))
    assert cv2.PSNR(crop, p_frame) < 40 and not np.array_equal(p_frame, h264_round_trip(crop, 30, preset))


def test_h264_step_draws_its_crf_through_the_augmentation(crop):
    """``crf`` reaches the codec: the drawn CRF, not a fixed one, sets the loss."""
    mild, severe = (
        paired_augment([crop], np.random.default_rng(0), "video", replace(STEPS["h264_intra"], crf=(c, c)))[0]
        for c in (18, 40)
    )
    assert cv2.PSNR(crop, mild) > cv2.PSNR(crop, severe) + 6


def test_video_draws_cover_the_crf_range():
    crfs = {VideoAugment(p_h264=1).draw(np.random.default_rng(s))["h264"][0] for s in range(400)}
    assert crfs == set(range(18, 41))


@pytest.mark.parametrize("step", ["all", "h264_p_frame", "noise"])
def test_video_augment_is_deterministic_per_seed(crop, step):
    fake = crop.copy()
    fake[80:150, 60:160] = cv2.GaussianBlur(fake[80:150, 60:160], (0, 0), 2)
    runs = [
        paired_augment([crop, fake], np.random.default_rng([7, s]), "video", STEPS[step]) for s in (0, 0, 1)
    ]
    assert all(np.array_equal(x, y) for x, y in zip(runs[0], runs[1], strict=True))
    assert not np.array_equal(runs[0][0], runs[2][0])


@pytest.mark.parametrize("shape", [(224, 224, 3), (150, 171, 3), (37, 50, 3)])
def test_video_augment_keeps_dtype_and_shape(crop, shape):
    img = np.ascontiguousarray(cv2.resize(crop, shape[1::-1]))
    for seed in range(3):
        out = paired_augment([img, img[::-1].copy()], np.random.default_rng(seed), "video", STEPS["all"])
        assert len(out) == 2
        assert all(o.dtype == np.uint8 and o.shape == shape and o.flags.c_contiguous for o in out)


def test_unknown_augment_kind_is_refused(crop):
    with pytest.raises(ValueError, match="unknown augment kind 'h265'"):
        paired_augment([crop], np.random.default_rng(0), "h265")


def test_video_augment_kind_is_a_recipe_option_and_sbi_pairs_use_it(face_pipeline, astronaut, tmp_path):
    assert DataSection(real_dirs=[tmp_path], augment="video").augment == "video"
    assert DataSection(real_dirs=[tmp_path]).augment == "camera"  # existing recipes unchanged
    with pytest.raises(ValidationError):
        DataSection(real_dirs=[tmp_path], augment="h265")
    face = face_pipeline.extract(astronaut)[0].crop
    lm = landmarks68(face, face_pipeline.config.crop)
    faces = FaceSet(np.stack([face, face]), np.stack([lm, lm]).astype(np.float32), ["a", "b"], [])
    ds = SBIPairs(faces, Preprocess(64), seed=1, augment_kind="video")
    item = ds[1]
    assert item["image"].shape == (2, 3, 64, 64) and item["label"].tolist() == [0.0, 1.0]
    assert np.array_equal(item["image"].numpy(), ds[1]["image"].numpy())
    # the item is exactly the video kind applied, after the blend, to (real, fake)
    rng = np.random.default_rng([1, 0, 1])
    blend = self_blend(face, lm, rng, ds.sbi)
    state = rng.bit_generator.state
    expected = paired_augment([blend.target, blend.fake], rng, "video")
    got = ds.item(1)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True))
    rng.bit_generator.state = state
    camera = paired_augment([blend.target, blend.fake], rng, "camera")
    assert not all(np.array_equal(g, c) for g, c in zip(got, camera, strict=True))
