"""Upload folders: a server started after a crash removes what the dead one left, nothing live."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fakelens.serve.settings import ServeSettings
from fakelens.serve.uploads import OWNER, make_upload_dir, sweep_stale_upload_dirs


def _ownerless(folder):
    (folder / OWNER).unlink()  # as an older server made them
    return folder


def test_sweep_removes_only_stale_upload_folders(tmp_path):
    settings = ServeSettings(tmp_dir=tmp_path)
    stale, live = _ownerless(make_upload_dir(settings)), _ownerless(make_upload_dir(settings))
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
    _ownerless(make_upload_dir(quick))
    assert sweep_stale_upload_dirs(quick, now=time.time() + 1800) == 0
    assert sweep_stale_upload_dirs(quick, now=time.time() + 2 * 3600) == 1
    assert not any(tmp_path.iterdir())


def test_a_folder_whose_server_was_killed_goes_at_once_and_a_live_ones_stays(tmp_path):
    """kill -9 leaves the folder; the next server used to keep it for about 11 hours."""
    import signal
    import subprocess
    import sys

    settings = ServeSettings(tmp_dir=tmp_path)
    code = (
        "import sys, time; from pathlib import Path; from fakelens.serve.settings import ServeSettings; "
        "from fakelens.serve.uploads import make_upload_dir; "
        f"print(make_upload_dir(ServeSettings(tmp_dir=Path({str(tmp_path)!r}))), flush=True); time.sleep(60)"
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    orphan = Path(server.stdout.readline().strip())
    mine = make_upload_dir(settings)
    old = time.time() - 2 * 24 * 3600
    os.utime(mine, (old, old))  # old, but its server (this process) is alive
    assert sweep_stale_upload_dirs(settings) == 0 and orphan.is_dir()  # its server still runs
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    assert sweep_stale_upload_dirs(settings) == 1
    assert not orphan.exists() and mine.is_dir()
