"""scripts/ship_model.py --video-calibrate: videos' own threshold from the run's validation groups'
real clips only, on the shipped model's own video scores."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from conftest import DEMO, ROOT


@pytest.fixture(scope="module")
def ship():
    spec = importlib.util.spec_from_file_location("ship_model", ROOT / "scripts" / "ship_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_video_threshold_comes_from_validation_groups_only(tmp_path, ship, make_tiny_checkpoint):
    from fakelens.scan import ScanOptions, scan_paths

    dst = make_tiny_checkpoint(tmp_path / "shipped")
    clips = tmp_path / "video-real"
    rows = ["relative_path\tlabel\tmethod\tgroup"]
    for i in range(12):  # ten clips of validation groups, two of a training group
        group = "trained" if i >= 10 else f"val{i % 5}"
        (clips / group).mkdir(parents=True, exist_ok=True)
        shutil.copy(
            DEMO / ("astronaut-pan.mp4" if i % 2 else "astronaut-lipsync.mp4"), clips / group / f"c{i}.mp4"
        )
        rows.append(f"{group}/c{i}.mp4\treal\treal\t{group}")
    (clips / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    run.mkdir()
    val = {f"/frames/val{g}_{k}.png": f"val{g}" for g in range(5) for k in range(2)}
    splits = {
        "reals": {"train": ["/frames/t.png"], "val": list(val)},
        "groups": {**val, "/frames/t.png": "trained"},
    }
    (run / "splits.json").write_text(json.dumps(splits))
    ship.calibrate_videos(dst, run, clips, frames=4)
    cfg = json.loads((dst / "config.json").read_text())
    val_clips = [p for g in range(5) for p in sorted((clips / f"val{g}").glob("*.mp4"))]
    records = scan_paths(val_clips, model=str(dst), options=ScanOptions(num_frames=4), progress=False)
    scores = np.array([r.score for r in records])
    assert cfg["video_threshold"] == round(float(np.quantile(scores, 0.95, method="higher")), 4)
    assert "over 10 validation real clips of 5 video-real groups" in cfg["video_threshold_rule"]
    assert cfg["threshold"] == 0.5  # the face threshold is left as it was
    splits["reals"]["val"] = list(val)[:6]  # three groups: six clips are too few to set it on
    (run / "splits.json").write_text(json.dumps(splits))
    with pytest.raises(SystemExit, match="only 6 real validation clips"):
        ship.calibrate_videos(dst, run, clips, frames=4)
