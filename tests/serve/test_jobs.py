"""The job queue: bounded, one worker, deadlines, cleanup, and a worker that survives failures."""

from __future__ import annotations

import threading
import time

import pytest

from fakelens.serve.jobs import JobManager
from fakelens.serve.schemas import ApiError


def test_queue_is_bounded_and_work_runs_in_order():
    jobs = JobManager(max_queue=1, max_jobs=10, ttl_s=60)
    gate, order, cleaned = threading.Event(), [], []
    first = jobs.submit(
        lambda j: gate.wait(10) and order.append(1) or {"n": 1}, 10, lambda: cleaned.append(1)
    )
    deadline = time.monotonic() + 10
    while first.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    second = jobs.submit(lambda j: order.append(2) or {"n": 2}, 10, remember=True)
    with pytest.raises(ApiError) as err:
        jobs.submit(lambda j: {}, 10)
    assert err.value.status == 429 and err.value.code == "queue_full"
    gate.set()
    assert first.future.result(5) == {"n": 1} and second.future.result(5) == {"n": 2}
    assert order == [1, 2] and cleaned == [1] and jobs.get(second.id).status == "done"
    jobs.close()


def test_deadline_and_failures_do_not_kill_the_worker():
    jobs = JobManager(max_queue=4, max_jobs=10, ttl_s=60)

    def slow(job):
        for _ in range(100):
            time.sleep(0.01)
            job.check()
        return {}

    late = jobs.submit(slow, timeout_s=0.05, remember=True)
    broken = jobs.submit(lambda j: 1 / 0, timeout_s=5, remember=True)
    fine = jobs.submit(lambda j: {"ok": True}, timeout_s=5)
    assert fine.future.result(5) == {"ok": True}
    assert late.status == "failed" and late.error.status == 504 and late.error.code == "timeout"
    assert (
        broken.status == "failed"
        and broken.error.code == "internal"
        and "ZeroDivision" in broken.error.message
    )
    jobs.close()


def test_finished_jobs_expire_and_the_table_is_bounded():
    jobs = JobManager(max_queue=8, max_jobs=2, ttl_s=60)
    done = [jobs.submit(lambda j: {}, 5, remember=True) for _ in range(2)]
    for j in done:
        j.future.result(5)
    third = jobs.submit(lambda j: {}, 5, remember=True)  # evicts the oldest finished job
    third.future.result(5)
    assert jobs.get(done[0].id) is None and jobs.get(third.id) is not None
    jobs.ttl_s = 0.0
    time.sleep(0.01)
    assert jobs.get(third.id) is None
    jobs.close()


def test_close_cancels_the_running_job_and_fails_the_queued_ones():
    """Shutdown: every job's upload is removed and nobody waits forever on a dropped job."""
    jobs = JobManager(max_queue=4, max_jobs=10, ttl_s=60)
    started, cleaned = threading.Event(), []

    def long_scan(job):
        started.set()
        while True:  # a long video: only its deadline or a cancel stops it
            time.sleep(0.01)
            job.check()

    running = jobs.submit(long_scan, 600, lambda: cleaned.append("running"), remember=True)
    queued = jobs.submit(lambda j: {}, 600, lambda: cleaned.append("queued"))
    assert started.wait(5)
    t0 = time.monotonic()
    jobs.close(wait_s=10)
    assert time.monotonic() - t0 < 5 and sorted(cleaned) == ["queued", "running"]
    assert running.status == "failed" and running.future.exception(1) is running.error
    with pytest.raises(ApiError) as err:
        queued.future.result(1)
    assert err.value.status == 503 and err.value.code == "shutting_down"
