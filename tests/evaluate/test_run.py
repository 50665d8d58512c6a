"""evaluate_manifest: unreadable files and faceless images are counted, and named when nothing scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakelens.evaluate.run import evaluate_manifest


def test_nothing_scored_says_why(tmp_path, tiny_detector):
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "wall.png")
    manifest = tmp_path / "m.jsonl"
    rows = [{"path": "missing.png", "label": 0}, {"path": "wall.png", "label": 1}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"2 rows .*\(1 unreadable, 1 without a face; see .*scores.jsonl\)"):
        evaluate_manifest(manifest, tmp_path / "out", model=tiny_detector, progress=False)
    errors = [json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert [e["path"].endswith("missing.png") for e in errors] == [True]  # the unreadable file is listed


def test_aligned_crops_are_scored_as_they_are_and_faces_of_a_frame_are_one_sample(tmp_path, tiny_detector):
    """Crops that prepare/synth framed as the model frames faces skip detection (noise has no face
    to find); crops of another framing are detected again; two faces of one frame are one sample."""
    rng = np.random.default_rng(0)
    for name in ("a3_0", "a3_1", "a5", "b", "other"):
        Image.fromarray(rng.integers(0, 256, (224, 224, 3), np.uint8)).save(tmp_path / f"{name}.png")
    ours = tiny_detector.face.fingerprint()
    rows = [
        {"path": "a3_0.png", "label": 1, "video_id": "A", "frame": 3, "aligned": ours},
        {"path": "a3_1.png", "label": 1, "video_id": "A", "frame": 3, "aligned": ours},
        {"path": "a5.png", "label": 1, "video_id": "A", "frame": 5, "aligned": ours},
        {"path": "b.png", "label": 0, "video_id": "B", "aligned": ours},
        {"path": "other.png", "label": 0, "video_id": "C", "aligned": "0123456789ab"},
        {"path": "gone.png", "label": 0, "video_id": "D", "aligned": ours},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_manifest(manifest, tmp_path / "out", model=tiny_detector, progress=False)
    assert result["rows_scored_as_crops"] == 4 and result["rows_realigned"] == 1
    assert (result["rows_scored"], result["rows_no_face"], result["rows_error"]) == (4, 1, 1)
    frame = result["metrics"]["frame_level"]
    assert (frame["n_real"], frame["n_fake"]) == (1, 2)  # A/3 (two faces), A/5, B
    lines = [json.loads(x) for x in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert [x["path"].endswith("gone.png") for x in lines if "error" in x] == [True]
    s = {Path(x["path"]).stem: x["score"] for x in lines if "score" in x}
    assert len(s) == 4
    crops = [np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("a3_0", "a3_1", "a5", "b")]
    direct = tiny_detector.predict_proba(crops)
    assert np.allclose([s["a3_0"], s["a3_1"], s["a5"], s["b"]], direct, atol=1e-5)
    video = result["metrics"]["video_level"]
    assert (video["n_real"], video["n_fake"]) == (1, 1)


def test_video_level_score_is_the_scan_video_score(tmp_path, demo_dir, tiny_detector, monkeypatch):
    """The score evaluate gives a video is the scan's own (face tracks, not a plain mean of frames),
    and the metrics name the scan's rule."""
    from fakelens.evaluate.run import _VideoFaces
    from fakelens.scan.scanner import Scanner, ScanOptions, frame_scores_of

    pattern = iter([0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 0.9, 0.0, 1.0] * 10)
    monkeypatch.setattr(
        tiny_detector, "predict_proba", lambda crops: np.array([next(pattern) for _ in crops])
    )
    clip = demo_dir / "astronaut-pan.mp4"
    result = Scanner(tiny_detector, ScanOptions(num_frames=10)).scan_file(clip)
    frames = np.array([score for _, score in frame_scores_of(result.faces).values()])
    assert len(frames) >= 5 and abs(frames.mean() - result.record.score) > 0.01  # the rules differ here
    videos = _VideoFaces()
    row = type("Row", (), {"path": clip, "frame": None})()
    for f in result.faces:
        videos.add(
            "clip", 1, videos.frame_base("clip", row, video_file=True) + f.frame, f.face, f.box, f.score
        )
    assert videos.scored()[2].tolist() == pytest.approx([result.record.score], abs=1e-9)
    manifest = tmp_path / "m.jsonl"
    rows = [{"path": str(clip), "label": 1}, {"path": str(demo_dir / "astronaut.png"), "label": 0}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pattern = iter([0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 0.9, 0.0, 1.0] * 10)
    report = evaluate_manifest(manifest, tmp_path / "out", model=tiny_detector, num_frames=10, progress=False)
    assert report["metrics"]["video_level"]["rule"] == result.record.rule


def test_a_failing_model_stops_the_evaluation(tmp_path, demo_dir, tiny_detector, monkeypatch):
    """A model that raises is not a row of unreadable files (AUC on the survivors): it stops the run."""
    from fakelens.scan import ModelFailure

    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "crop.png")
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"path": str(demo_dir / "astronaut.png"), "label": 0},
        {"path": "crop.png", "label": 1, "aligned": tiny_detector.face.fingerprint()},
    ]

    def fail(crops):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tiny_detector, "predict_proba", fail)
    for chosen in (rows[:1], rows[1:]):  # through the scanner, and aligned crops scored as they are
        manifest.write_text("".join(json.dumps(r) + "\n" for r in chosen))
        with pytest.raises(ModelFailure, match="RuntimeError: out of memory"):
            evaluate_manifest(manifest, tmp_path / "out", model=tiny_detector, progress=False)
