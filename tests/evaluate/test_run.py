"""evaluate_manifest: unreadable files and faceless images are counted, and named when nothing scores."""

from __future__ import annotations

import json

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
