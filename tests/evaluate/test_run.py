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
