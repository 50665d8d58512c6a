from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakelens.faces import CropSpec, FaceConfig, FacePipeline, transform_points
from fakelens.faces.align import alignment_matrix
from fakelens.faces.landmarks import landmarks68


def test_astronaut_has_one_face_with_five_points_in_the_box(face_pipeline, astronaut):
    faces = face_pipeline.detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    x0, y0, x1, y1 = f.box
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 220
    assert np.all(
        (f.points5[:, 0] > x0) & (f.points5[:, 0] < x1) & (f.points5[:, 1] > y0) & (f.points5[:, 1] < y1)
    )
    # subject's right eye is on the image's left
    assert f.points5[0, 0] < f.points5[1, 0]


def test_collage_finds_every_face(face_pipeline, astronaut):
    tile = cv2.resize(astronaut, (256, 256))
    collage = np.concatenate([np.concatenate([tile, tile], 1), np.concatenate([tile[:, ::-1], tile], 1)], 0)
    assert len(face_pipeline.detect(collage)) == 4


def test_faceless_image_gives_no_face(face_pipeline):
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8), (9, 9), 3)
    assert face_pipeline.extract(noise) == []
    assert face_pipeline.extract(np.zeros((64, 64, 3), np.uint8)) == []


def test_alignment_puts_points_on_template(face_pipeline, astronaut):
    spec = CropSpec(size=200)
    face = face_pipeline.detect(astronaut)[0]
    m = alignment_matrix(face.points5, spec)
    mapped = transform_points(face.points5, m)
    assert np.abs(mapped - spec.template_points()).max() < 8  # five real points never fit exactly
    aligned = FacePipeline(FaceConfig(crop=spec)).extract(astronaut)[0]
    assert aligned.crop.shape == (200, 200, 3) and aligned.crop.dtype == np.uint8


def test_alignment_undoes_rotation(face_pipeline, astronaut):
    h, w = astronaut.shape[:2]
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
    spec = face_pipeline.config.crop

    def eye_angle(crop):  # degrees of the line between the eye centres, from 68-point landmarks
        lm = landmarks68(crop, spec)
        d = lm[42:48].mean(0) - lm[36:42].mean(0)
        return np.degrees(np.arctan2(d[1], d[0]))

    assert abs(eye_angle(face_pipeline.extract(astronaut)[0].crop)) < 5
    assert abs(eye_angle(face_pipeline.extract(rot)[0].crop)) < 5  # upright again after alignment
    # YuNet's own points alone leave most of the roll in (why FaceConfig.refine exists)
    unrefined = FacePipeline(FaceConfig(refine=0)).extract(rot)[0].crop
    assert abs(eye_angle(unrefined)) > 10
    # the landmark check itself can see a tilt: the rotated photo's face, without alignment, is tilted
    straight = face_pipeline.extract(astronaut)[0].crop
    tilted = cv2.warpAffine(straight, cv2.getRotationMatrix2D((112, 112), 25, 1.0), (224, 224))
    assert abs(eye_angle(tilted)) > 5


def test_tight_face_crop_is_found_by_padded_retry(face_pipeline, astronaut):
    face = face_pipeline.detect(astronaut)[0]
    x0, y0, x1, y1 = (int(v) for v in face.box)
    tight = np.ascontiguousarray(astronaut[y0:y1, x0:x1])
    assert len(face_pipeline.detect(tight)) == 1
    no_retry = FacePipeline(FaceConfig(pad_retry=0.0))
    assert len(no_retry.detect(tight)) <= 1  # the retry is what makes this robust, never harmful


def test_a_small_face_in_a_large_photo_gets_a_second_look(face_pipeline, astronaut):
    """A 4000x3000 photo is detected at 640 px, where a ~45 px face is 7 px: the second scale finds it."""
    canvas = np.full((3000, 4000, 3), 120, np.uint8)
    canvas[1000:1240, 2000:2240] = cv2.resize(astronaut, (240, 240), interpolation=cv2.INTER_AREA)
    assert face_pipeline.detector.detect(canvas) == []
    (face,) = face_pipeline.detect(canvas)
    x0, y0, x1, y1 = face.box
    assert 2000 <= x0 < x1 <= 2240 and 1000 <= y0 < y1 <= 1240 and face.size >= 32


def test_min_face_drops_small_faces(astronaut):
    small = cv2.resize(astronaut, (128, 128))
    assert FacePipeline(FaceConfig(min_face=100)).detect(small) == []


def test_landmarks_follow_the_face(face_pipeline, astronaut):
    aligned = face_pipeline.extract(astronaut)[0]
    lm = landmarks68(aligned.crop, face_pipeline.config.crop)
    assert lm.shape == (68, 2)
    tpl = face_pipeline.config.crop.template_points()
    eye_r, eye_l = lm[36:42].mean(0), lm[42:48].mean(0)
    assert np.linalg.norm(eye_r - tpl[0]) < 10 and np.linalg.norm(eye_l - tpl[1]) < 10
    assert lm[8, 1] > lm[57, 1] > lm[33, 1] > lm[27, 1]  # chin below mouth below nose below brows


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="unknown face detector"):
        FacePipeline(FaceConfig(detector="haar"))


def test_face_config_round_trip():
    cfg = FaceConfig(min_face=40, crop=CropSpec(size=160, margin=0.3))
    assert FaceConfig.from_dict(cfg.to_dict()) == cfg


def test_fingerprint_names_the_framing_only():
    base = FaceConfig()
    assert base.fingerprint() == FaceConfig().fingerprint() and len(base.fingerprint()) == 12
    assert FaceConfig(max_faces=1).fingerprint() == base.fingerprint()  # how many, not which pixels
    assert FaceConfig(crop=CropSpec(size=128)).fingerprint() != base.fingerprint()
    assert FaceConfig(refine=0).fingerprint() != base.fingerprint()
