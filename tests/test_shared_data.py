"""Integration checks on the research data in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import pytest

from fakelens.faces import FacePipeline
from fakelens.media import load_image, probe_video
from fakelens.scan import Scanner, ScanOptions


@pytest.mark.parametrize(
    "folder,pattern",
    [
        ("ffhq-real", "*.png"),
        ("stylegan2-fake", "*.png"),
        ("att-faces", "s*/*.pgm"),
        ("dfdc-samples", "faces/*/*.png"),
    ],
)
def test_faces_are_found_in_every_dataset(shared_data, face_pipeline: FacePipeline, folder, pattern):
    files = sorted((shared_data / folder).glob(pattern))[:25]
    assert files, f"no files matched {pattern} in {folder}"
    found = sum(bool(face_pipeline.detect(load_image(f))) for f in files)
    assert found >= 0.95 * len(files)


def test_att_grayscale_pgm_becomes_rgb(shared_data):
    img = load_image(next((shared_data / "att-faces").glob("s1/*.pgm")))
    assert img.shape == (112, 92, 3) and (img[..., 0] == img[..., 1]).all()


def test_dfdc_clip_is_sampled_over_its_whole_duration(shared_data, default_detector):
    clip = shared_data / "dfdc-samples" / "videos" / "fake" / "abofeumbvv.mp4"
    info = probe_video(clip)
    assert (info.width, info.height, info.frames) == (1920, 1080, 300)
    result = Scanner(default_detector, ScanOptions(num_frames=8)).scan_file(clip)
    assert result.record.frames == 8 and result.record.faceless_frames == 0
    frames = sorted({f.frame for f in result.faces})
    assert frames[0] < 40 and frames[-1] > 260  # evenly spaced, not the first N


def test_shipped_default_flags_held_out_stylegan2_faces_but_not_held_out_ffhq_photos(
    shared_data, default_detector
):
    """The default's GAN member at work, on images no recipe trained or validated on: the ``dev``
    split of the default's own ``splits.json`` (FFHQ photos and StyleGAN2 faces)."""
    from fakelens.data.splits import checkpoint_splits
    from fakelens.evaluate import rates_at_threshold, roc_auc
    from fakelens.models.detector import resolve_checkpoint
    from fakelens.scan import scan_paths

    splits = checkpoint_splits(resolve_checkpoint(), shared_data)
    reals = splits.files("dev")[:12]
    fakes = splits.files("dev", "fakes")[:12]
    used = {p for k in ("train", "val") for kind in ("reals", "fakes") for p in splits.files(k, kind)}
    assert len(reals) == len(fakes) == 12 and not used & set(reals + fakes)
    records = scan_paths(reals + fakes, None, model=default_detector, progress=False)
    scores = [r.score for r in records]
    labels = [0] * len(reals) + [1] * len(fakes)
    assert roc_auc(labels, scores) > 0.9
    false_alarms, caught = rates_at_threshold(labels, scores, default_detector.threshold)
    assert caught >= 0.75 and false_alarms <= 0.25
