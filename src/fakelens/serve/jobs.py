"""A bounded queue of scans run by one worker thread, and the table of video jobs.

One worker because the detector (a torch module, a face detector with internal buffers) is not
safe to call from several threads at once; on a 2-core machine a second worker would only
contend for the same cores. Images use the same queue and are awaited by their request; videos
are remembered as jobs that clients poll, and forgotten ``ttl_s`` after they finish.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from fakelens.errors import unexpected
from fakelens.serve.schemas import ApiError


class JobCancelled(BaseException):
    """Raised inside a scan when its job ran past its deadline or was abandoned. A BaseException
    so that no ``except Exception`` in the scan (e.g. the one that wraps a model's failure in
    ``ModelFailure``) mistakes it for an error: it goes straight through to the worker."""


@dataclass
class Job:
    id: str
    work: Callable[[Job], dict]
    timeout_s: float
    cleanup: Callable[[], None] | None = None
    status: str = "queued"  # queued | running | done | failed
    progress: float = 0.0
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    result: dict | None = None
    error: ApiError | None = None
    future: Future = field(default_factory=Future)
    deadline: float | None = None  # time.monotonic() after which the scan stops
    cancelled: bool = False

    def check(self) -> None:
        """Called by the scan between frames: stop when abandoned or out of time."""
        if self.cancelled:
            raise JobCancelled("abandoned by its request")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobCancelled(f"the scan took longer than the limit of {self.timeout_s:g} s")

    def cancel(self) -> None:
        self.cancelled = True


class JobManager:
    def __init__(self, max_queue: int, max_jobs: int, ttl_s: float):
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._current: Job | None = None  # the job the worker is running
        self.max_jobs, self.ttl_s = max_jobs, ttl_s

    # -- submitting and looking up -------------------------------------------------------------
    def submit(
        self, work: Callable[[Job], dict], timeout_s: float, cleanup=None, remember: bool = False
    ) -> Job:
        """Queue ``work(job) -> result``; ``remember`` keeps it in the job table for polling."""
        self._start()
        job = Job(uuid.uuid4().hex, work, timeout_s, cleanup)
        with self._lock:
            self._expire()
            if remember and len(self._jobs) >= self.max_jobs:
                raise ApiError(
                    429, "too_many_jobs", "too many video jobs in flight; retry later", {"Retry-After": "5"}
                )
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise ApiError(
                    429, "queue_full", "the scan queue is full; retry later", {"Retry-After": "1"}
                ) from None
            if remember:
                self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._expire()
            return self._jobs.get(job_id)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self._queue.qsize(), len(self._jobs)

    def _expire(self) -> None:
        """Forget finished jobs past their TTL; over capacity, the oldest finished go first."""
        now = time.time()
        done = [j for j in self._jobs.values() if j.finished_at is not None]
        for j in done:
            if now - j.finished_at > self.ttl_s:
                del self._jobs[j.id]
        excess = len(self._jobs) - self.max_jobs + 1
        for j in sorted((j for j in done if j.id in self._jobs), key=lambda j: j.finished_at)[
            : max(excess, 0)
        ]:
            del self._jobs[j.id]

    # -- the worker ------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fakelens-scan", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._current = job
            try:
                self._execute(job)
            finally:
                self._current = None

    def _execute(self, job: Job) -> None:
        """Run one job. The outcome is published last (finish time, then status), so a poller that
        sees "done" or "failed" always sees the finish time and a removed upload with it."""
        job.status = "running"
        job.deadline = time.monotonic() + job.timeout_s
        status = "failed"
        try:
            job.check()
            job.result = job.work(job)
            status = "done"
        except JobCancelled as err:
            job.error = ApiError(504, "timeout", str(err))
        except ApiError as err:
            job.error = err
        except Exception as err:  # noqa: BLE001 - one bad scan must not kill the worker
            job.error = ApiError(500, "internal", unexpected(err))
        finally:
            if job.cleanup is not None:
                job.cleanup()
            job.finished_at = time.time()
            if status == "done":
                job.progress = 1.0
            job.status = status
            if job.future.done():  # already answered (close() failed it)
                pass
            elif job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)

    def close(self, wait_s: float = 30) -> None:
        """Shut down: queued jobs are dropped (their uploads removed, their waiters told 503), the
        running one is cancelled at its next frame so its upload is removed before we return."""
        gone = ApiError(503, "shutting_down", "the server is shutting down")
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                continue
            if job.cleanup is not None:
                job.cleanup()
            job.error, job.finished_at = gone, time.time()
            job.status = "failed"
            if not job.future.done():
                job.future.set_exception(gone)
        running = self._current
        if running is not None:
            running.cancel()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=wait_s)
