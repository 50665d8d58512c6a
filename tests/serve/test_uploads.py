"""Upload folders: a server started after a crash removes what the dead one left, nothing live."""

from __future__ import annotations

import os
import time

from fakelens.serve.settings import ServeSettings
from fakelens.serve.uploads import make_upload_dir, sweep_stale_upload_dirs


def test_sweep_removes_only_stale_upload_folders(tmp_path):
    settings = ServeSettings(tmp_dir=tmp_path)
    stale, live = make_upload_dir(settings), make_upload_dir(settings)
    (stale / "clip.mp4").write_bytes(b"x" * 10)
    unrelated = tmp_path / "someone-else"
    unrelated.mkdir()
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    os.utime(unrelated, (old, old))
    assert sweep_stale_upload_dirs(settings) == 1
    assert not stale.exists() and live.is_dir() and unrelated.is_dir()
    # with the defaults a video may wait hours behind a full queue of jobs: five hours is not stale
    assert sweep_stale_upload_dirs(settings, now=time.time() + 5 * 3600) == 0


def test_sweep_age_has_a_one_hour_floor(tmp_path):
    quick = ServeSettings(tmp_dir=tmp_path, request_timeout_s=5, job_timeout_s=5, max_queue=1)
    make_upload_dir(quick)
    assert sweep_stale_upload_dirs(quick, now=time.time() + 1800) == 0
    assert sweep_stale_upload_dirs(quick, now=time.time() + 2 * 3600) == 1
    assert not any(tmp_path.iterdir())
