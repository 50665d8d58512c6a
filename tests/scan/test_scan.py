from __future__ import annotations

import json

import numpy as np
import pytest

from fakelens.records import FaceRecord, FileRecord, from_json, to_json
from fakelens.scan import Scanner, ScanOptions, scan_paths, trimmed_mean
from fakelens.scan.output import done_files


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_record_per_file_for_a_mixed_folder(tmp_path, mixed_folder, tiny_detector):
    out = tmp_path / "results.jsonl"
    records = scan_paths([mixed_folder], out, model=tiny_detector, progress=False)
    by_name = {r.file.split("/")[-1]: r for r in records}
    assert sorted(by_name) == [
        "broken.png",
        "clip.mp4",
        "corrupt.mp4",
        "photo-sbi.png",
        "photo.png",
        "wall.jpg",
    ]
    assert by_name["broken.png"].verdict == "error" and "broken.png" in by_name["broken.png"].error
    assert by_name["corrupt.mp4"].verdict == "error" and "\n" not in by_name["corrupt.mp4"].error
    assert by_name["wall.jpg"].verdict == "no_face" and by_name["wall.jpg"].faceless_frames == 1
    assert by_name["wall.jpg"].score is None
    clip = by_name["clip.mp4"]
    assert clip.kind == "video" and clip.frames == 32 and clip.faces == clip.frames - clip.faceless_frames
    assert by_name["photo.png"].verdict in ("real", "fake") and by_name["photo.png"].faces == 1
    lines = read_jsonl(out)
    file_lines = [x for x in lines if x["type"] == "file"]
    face_lines = [x for x in lines if x["type"] == "face"]
    assert len(file_lines) == 6
    assert {"file", "frame", "time_s", "face", "box", "score"} <= set(face_lines[0])
    assert {"file", "verdict", "score", "faces", "frames", "error"} <= set(file_lines[0])
    clip_faces = [x for x in face_lines if x["file"].endswith("clip.mp4")]
    times = [x["time_s"] for x in clip_faces]
    assert times == sorted(times) and times[-1] > 2.0  # frames spread over the whole 3 s clip


def test_file_scores_follow_the_documented_rule(tmp_path, mixed_folder, tiny_detector):
    out = tmp_path / "r.jsonl"
    scan_paths(
        [mixed_folder / "clip.mp4", mixed_folder / "photo.png"], out, model=tiny_detector, progress=False
    )
    lines = read_jsonl(out)
    faces = [x for x in lines if x["type"] == "face" and x["file"].endswith("clip.mp4")]
    per_frame = {}
    for f in faces:
        per_frame[f["frame"]] = max(per_frame.get(f["frame"], 0), f["score"])
    clip = next(x for x in lines if x["type"] == "file" and x["file"].endswith("clip.mp4"))
    # the deciding face track's trimmed mean (one person: one track, the trimmed mean of its faces)
    deciding = [f["score"] for f in faces if f["track"] == clip["track"]]
    assert clip["score"] == pytest.approx(trimmed_mean(np.array(deciding), 0.2), abs=1e-5)
    assert clip["tracks"] == len({f["track"] for f in faces}) and clip["track_frames"] == len(deciding)
    if clip["tracks"] == 1:
        assert clip["score"] == pytest.approx(trimmed_mean(np.array(list(per_frame.values())), 0.2), abs=1e-5)
    photo = next(x for x in lines if x["type"] == "file" and x["file"].endswith("photo.png"))
    photo_faces = [x["score"] for x in lines if x["type"] == "face" and x["file"].endswith("photo.png")]
    assert photo["score"] == pytest.approx(max(photo_faces), abs=1e-6)
    assert (photo["verdict"] == "fake") == (photo["score"] >= 0.5)


def test_resume_skips_done_files_and_repairs_a_torn_line(tmp_path, mixed_folder, tiny_detector):
    out = tmp_path / "results.jsonl"
    scan_paths([mixed_folder / "photo.png"], out, model=tiny_detector, progress=False)
    with out.open("a") as fh:  # an interrupted scan of clip.mp4: one face line, then a torn line
        fh.write(json.dumps({"type": "face", "file": str(mixed_folder / "clip.mp4"), "frame": -1}) + "\n")
        fh.write('{"type": "face", "file": "half-writ')
    assert done_files(out) == {str(mixed_folder / "photo.png")}
    records = scan_paths([mixed_folder], out, model=tiny_detector, resume=True, progress=False)
    assert len(records) == 5 and str(mixed_folder / "photo.png") not in {r.file for r in records}
    lines = read_jsonl(out)  # every line parses again
    assert sum(x["type"] == "file" for x in lines) == 6
    clip_frame0 = [
        x for x in lines if x["type"] == "face" and x["file"].endswith("clip.mp4") and x["frame"] == 0
    ]
    assert len(clip_frame0) <= 1  # the interrupted file's partial records were dropped, not duplicated


def test_missing_path_is_an_error_record(tmp_path, tiny_detector):
    records = scan_paths([tmp_path / "nowhere.jpg"], None, model=tiny_detector, progress=False)
    assert records[0].verdict == "error" and "no such file" in records[0].error


def test_every_kth_frame(mixed_folder, tiny_detector):
    result = Scanner(tiny_detector, ScanOptions(every=25)).scan_file(mixed_folder / "clip.mp4")
    assert result.record.frames == 3  # 75 frames: 0, 25, 50
    assert sorted({f.frame for f in result.faces}) <= [0, 25, 50]


def test_trimmed_mean_ignores_outliers():
    assert trimmed_mean(np.array([0.1] * 8 + [1.0, 1.0]), 0.2) == pytest.approx(0.1)
    assert trimmed_mean(np.array([0.3]), 0.2) == pytest.approx(0.3)
    assert trimmed_mean(np.array([0.2, 0.4]), 0.2) == pytest.approx(0.3)


def test_records_round_trip():
    face = FaceRecord("a.mp4", 3, 0.12, 0, (1, 2, 3, 4), 0.25)
    file = FileRecord("a.mp4", "video", "real", 0.25, 1, 32, 31, None, "m", 0.5, "rule", 1.5)
    for rec in (face, file):
        assert from_json(to_json(rec)) == rec


def test_report_shows_verdicts_crops_and_heat_maps(tmp_path, mixed_folder, tiny_detector):
    report = tmp_path / "report.html"
    scan_paths([mixed_folder], tmp_path / "r.jsonl", model=tiny_detector, report=report, progress=False)
    page = report.read_text()
    for name in ("photo.png", "clip.mp4", "broken.png", "wall.jpg"):
        assert name in page
    assert page.count("data:image/jpeg;base64") >= 6  # frames, crops and heat maps are inlined
    assert "where the evidence is" in page or "no region raised the score" in page
    assert 'src="http' not in page and "<link" not in page and "<script" not in page  # no CDN, works offline


def test_shipped_model_tells_the_demo_forgery_from_the_real_photo(tmp_path, demo_dir, default_detector):
    records = scan_paths(
        [demo_dir / "astronaut.png", demo_dir / "astronaut-sbi.png"],
        None,
        model=default_detector,
        progress=False,
    )
    real, fake = records
    assert fake.score > real.score


def _fail(*_args, **_kwargs):
    raise RuntimeError("CUDA error: device-side assert triggered")


def test_a_failing_model_raises_instead_of_calling_the_file_unreadable(monkeypatch, demo_dir, tiny_detector):
    from fakelens.scan import ModelFailure

    monkeypatch.setattr(tiny_detector, "predict_proba", _fail)
    with pytest.raises(
        ModelFailure, match=r"model failure while scanning '.*astronaut.png': RuntimeError: CUDA"
    ) as err:
        Scanner(tiny_detector).scan_file(demo_dir / "astronaut.png")
    assert isinstance(err.value.__cause__, RuntimeError)


def test_a_failing_face_detector_raises_too(monkeypatch, demo_dir, tiny_detector):
    from fakelens.scan import ModelFailure

    scanner = Scanner(tiny_detector)
    monkeypatch.setattr(scanner.faces, "detect_all", _fail)
    with pytest.raises(ModelFailure):
        scanner.scan_file(demo_dir / "astronaut.png")


def test_read_errors_stay_error_records_and_the_batch_goes_on(
    monkeypatch, tmp_path, mixed_folder, tiny_detector
):
    """Decoder errors that are not the media layer's own (an OSError here) are still the file's."""
    import fakelens.models.file_scanner as fs

    real_load = fs.load_image

    def flaky(path, *args, **kwargs):
        if path.name == "photo.png":
            raise OSError(5, "Input/output error")
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(fs, "load_image", flaky)
    paths = [mixed_folder / "photo.png", mixed_folder / "broken.png", mixed_folder / "sub" / "photo-sbi.png"]
    records = scan_paths(paths, tmp_path / "r.jsonl", model=tiny_detector, progress=False)
    assert [r.verdict for r in records][:2] == ["error", "error"] and records[2].verdict in ("real", "fake")
    assert records[0].error == f"cannot read '{paths[0]}': Input/output error"


def test_empty_folder_is_an_error_record_and_no_media_at_all_is_an_error(tmp_path, demo_dir, tiny_detector):
    from fakelens.errors import FakelensError

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("not media")
    with pytest.raises(FakelensError, match=r"nothing to scan: no image or video files in '.*empty'"):
        scan_paths([tmp_path / "empty"], None, model=tiny_detector, progress=False)
    records = scan_paths(
        [tmp_path / "empty", demo_dir / "astronaut.png"], None, model=tiny_detector, progress=False
    )
    assert [r.verdict for r in records][0] == "error" and "nothing to scan in" in records[0].error
    assert records[1].verdict in ("real", "fake")


def test_videos_are_called_at_their_own_threshold_and_an_override_sets_both(mixed_folder, tiny_detector):
    import copy

    from fakelens.models.scorer import set_threshold, threshold_text

    det = copy.copy(tiny_detector)  # the fixture is shared: change a copy
    paths = [mixed_folder / "clip.mp4", mixed_folder / "photo.png"]
    first = {r.kind: r for r in scan_paths(paths, model=det, progress=False)}
    video, image = first["video"].score, first["image"].score
    det.threshold = max(video, image) + 0.01  # the face threshold calls both real
    det.config = {**det.config, "video_threshold": video - 1e-4}
    got = {r.kind: r for r in scan_paths(paths, model=det, progress=False)}
    assert got["video"].verdict == "fake" and got["video"].threshold == pytest.approx(video - 1e-4)
    assert got["image"].verdict == "real" and got["image"].threshold == det.threshold
    assert threshold_text(det) == f"{det.threshold:.3f} (videos {video - 1e-4:.3f})"
    set_threshold(det, max(video, image) + 0.01)  # --threshold: one rule for every file
    assert {r.verdict for r in scan_paths(paths, model=det, progress=False)} == {"real"}
    assert "video_threshold" not in det.config and "video_threshold" not in tiny_detector.config


def test_whole_image_scores_the_picture_of_one_face_images(tmp_path, demo_dir, tiny_detector, astronaut):
    import cv2

    from fakelens.media import load_image
    from fakelens.models.file_scanner import whole_picture
    from fakelens.rules import WHOLE_IMAGE_RULE

    cv2.imwrite(str(tmp_path / "two.png"), np.hstack([astronaut[..., ::-1]] * 2))
    opts = ScanOptions(whole_image=True)
    one, two = scan_paths(
        [demo_dir / "astronaut.png", tmp_path / "two.png"], model=tiny_detector, options=opts
    )
    size = tiny_detector.face.crop.size
    expected = float(
        tiny_detector.predict_proba([whole_picture(load_image(demo_dir / "astronaut.png"), size)])[0]
    )
    plain = scan_paths([demo_dir / "astronaut.png"], model=tiny_detector, progress=False)[0]
    assert one.image_score == pytest.approx(expected, abs=1e-6) and one.rule == WHOLE_IMAGE_RULE
    assert one.score == pytest.approx(max(plain.score, expected), abs=1e-6)
    assert one.decided_by == ("whole image" if expected > plain.score else "face")
    assert two.faces == 2 and two.image_score is None and two.decided_by is None  # not a portrait
    assert plain.image_score is None and plain.rule != WHOLE_IMAGE_RULE  # off by default
    assert whole_picture(np.zeros((300, 500, 3), np.uint8), 224).shape == (224, 224, 3)


def test_the_scorer_hears_the_media_kind_of_each_file(mixed_folder, tiny_detector):
    """An ensemble with a video combination scores a video's faces with it: the scanner must say so."""

    class Recording:
        def __init__(self, det):
            self.det, self.kinds = det, []

        def __getattr__(self, name):
            return getattr(self.det, name)

        def predict_proba(self, crops, kind="image"):
            self.kinds.append(kind)
            return self.det.predict_proba(crops, kind=kind)

    for name, kind in (("clip.mp4", "video"), ("photo.png", "image")):
        det = Recording(tiny_detector)
        record = Scanner(det, ScanOptions()).scan_file(mixed_folder / name).record
        assert record.kind == kind and det.kinds and set(det.kinds) == {kind}
