"""Concurrent questions answered in batches: callers that arrive within a few milliseconds
of each other share one ``ask_many`` call (one embedding batch), and a caller finding too
many questions already waiting is told to try again (``Busy``) instead of queueing forever.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from .errors import Busy
from .records import Answer

log = logging.getLogger(__name__)

WINDOW_S = 0.005  # how long the first question of a batch waits for company
MAX_BATCH = 32  # questions per ask_many call
MAX_WAITING = 128  # questions waiting beyond this are turned away
MAX_WAIT_S = 30.0  # a caller gives up after this long
BUSY_MESSAGE = "现在提问的人较多，请稍等几秒再试。"

AskMany = Callable[[Sequence[str], Sequence[Sequence[str]]], list[Answer]]


class MicroBatcher:
    """``ask(question, history)`` from any thread; one dispatcher thread calls ``ask_many``."""

    def __init__(
        self,
        ask_many: AskMany,
        window_s: float = WINDOW_S,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
        max_wait_s: float = MAX_WAIT_S,
    ):
        self._ask_many = ask_many
        self.window_s, self.max_batch = window_s, max_batch
        self.max_waiting, self.max_wait_s = max_waiting, max_wait_s
        self._queue: queue.Queue[tuple[str, tuple[str, ...], Future] | None] = queue.Queue()
        self._waiting = 0
        self._lock = threading.Lock()
        self.batches = 0  # ask_many calls made (for tests and the benchmark)
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """The answer, computed in a batch with whatever arrived at the same time.

        Raises ``Busy`` when too many questions wait or the answer takes too long, and
        whatever ``ask_many`` raises for this question alone (e.g. ``QuestionError``)."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise Busy(BUSY_MESSAGE)
            self._waiting += 1
        future: Future = Future()
        self._queue.put((question, tuple(history), future))
        try:
            return future.result(timeout=self.max_wait_s)
        except FutureTimeout:
            future.cancel()
            raise Busy(BUSY_MESSAGE) from None

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)

    def _take(self) -> list[tuple[str, tuple[str, ...], Future]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=max(left, 0)) if left > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            live = [item for item in batch if item[2].set_running_or_notify_cancel()]
            with self._lock:
                self._waiting -= len(batch)
            if live:
                self._answer(live)

    def _answer(self, batch: list[tuple[str, tuple[str, ...], Future]]) -> None:
        self.batches += 1
        try:
            answers = self._ask_many([q for q, _, _ in batch], [h for _, h, _ in batch])
        except Exception:  # one bad question must not fail the others: ask them alone
            log.info("a batch of %d failed; asking one by one", len(batch), exc_info=True)
            for question, history, future in batch:
                try:
                    future.set_result(self._ask_many([question], [history])[0])
                except Exception as exc:
                    future.set_exception(exc)
            return
        for (_, _, future), answer in zip(batch, answers):
            future.set_result(answer)
