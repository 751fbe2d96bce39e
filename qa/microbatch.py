"""Concurrent questions answered in batches: callers that arrive within a few milliseconds
of each other share one ``ask_many`` call (one embedding batch), and a caller finding too
many questions already waiting is told to try again (``Busy``) instead of queueing forever.

Questions for the same engine (``ask_many``) and document filter (``sources``) share a call;
a session with its own uploads asks its own engine, so its questions form their own group.
``submit`` gives a ``Future``, ``ask`` waits for it, ``ask_async`` awaits it (an async caller
holds no thread while it waits).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from .errors import Busy
from .records import Answer

log = logging.getLogger(__name__)

WINDOW_S = 0.005  # how long the first question of a batch waits for company
MAX_BATCH = 32  # questions per ask_many call
MAX_WAITING = 128  # questions waiting beyond this are turned away
MAX_WAIT_S = 30.0  # a caller gives up after this long
# batches in flight at once: while one is embedded (C, the GIL released) the other's answer
# checks run (Python); 50 clients of benchmarks/load.py got 8-31 % more answers/s with two
# than with one, in alternating runs (README, load benchmark)
DISPATCHERS = 2
BUSY_MESSAGE = "现在提问的人较多，请稍等几秒再试。"

AskMany = Callable[..., list[Answer]]  # (questions, histories[, sources]) -> answers
Key = tuple[AskMany, frozenset[str] | None]  # questions with one key share a call
Item = tuple[str, tuple[str, ...], Key, Future]


class MicroBatcher:
    """``ask(question, history)`` from any thread; ``dispatchers`` threads call ``ask_many``,
    each with its own batch."""

    def __init__(
        self,
        ask_many: AskMany,
        window_s: float = WINDOW_S,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
        max_wait_s: float = MAX_WAIT_S,
        dispatchers: int = DISPATCHERS,
    ):
        self._ask_many = ask_many
        self.window_s, self.max_batch = window_s, max_batch
        self.max_waiting, self.max_wait_s = max_waiting, max_wait_s
        self._queue: queue.Queue[Item | None] = queue.Queue()
        self._waiting = 0
        self._lock = threading.Lock()
        self.batches = 0  # ask_many calls made (for tests and the benchmark)
        self._threads = [
            threading.Thread(target=self._run, name=f"micro-batcher-{k}", daemon=True)
            for k in range(dispatchers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting

    def submit(
        self,
        question: str,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
        ask_many: AskMany | None = None,
    ) -> Future:
        """Queue one question (for ``ask_many``, default the batcher's; ``sources`` limits
        retrieval as in ``Assistant.ask``); its future gives the answer. Raises ``Busy`` at
        once when too many questions wait."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise Busy(BUSY_MESSAGE)
            self._waiting += 1
        future: Future = Future()
        key = (ask_many or self._ask_many, None if sources is None else frozenset(sources))
        self._queue.put((question, tuple(history), key, future))
        return future

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
        ask_many: AskMany | None = None,
    ) -> Answer:
        """The answer, computed in a batch with whatever arrived at the same time.

        Raises ``Busy`` when too many questions wait or the answer takes too long, and
        whatever ``ask_many`` raises for this question alone (e.g. ``QuestionError``)."""
        future = self.submit(question, history, sources, ask_many)
        try:
            return future.result(timeout=self.max_wait_s)
        except FutureTimeout:
            future.cancel()
            raise Busy(BUSY_MESSAGE) from None

    async def ask_async(
        self,
        question: str,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
        ask_many: AskMany | None = None,
    ) -> Answer:
        """``ask`` for async callers: the same answer and the same ``Busy``."""
        future = self.submit(question, history, sources, ask_many)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.max_wait_s)
        except TimeoutError:
            future.cancel()
            raise Busy(BUSY_MESSAGE) from None

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)  # one stop per dispatcher
        for thread in self._threads:
            thread.join(5)

    def _take(self) -> list[Item] | None:
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
            live = [item for item in batch if item[3].set_running_or_notify_cancel()]
            with self._lock:
                self._waiting -= len(batch)
            groups: dict[Key, list[Item]] = {}
            for item in live:
                groups.setdefault(item[2], []).append(item)
            for key, group in groups.items():
                self._answer(key, group)

    def _answer(self, key: Key, batch: list[Item]) -> None:
        with self._lock:
            self.batches += 1
        ask_many, sources = key

        def call(questions: list[str], histories: list[tuple[str, ...]]) -> list[Answer]:
            if sources is None:
                return ask_many(questions, histories)
            return ask_many(questions, histories, sources)

        try:
            answers = call([q for q, *_ in batch], [h for _, h, *_ in batch])
        except Exception:  # one bad question must not fail the others: ask them alone
            log.info("a batch of %d failed; asking one by one", len(batch), exc_info=True)
            for question, history, _, future in batch:
                try:
                    future.set_result(call([question], [history])[0])
                except Exception as exc:
                    future.set_exception(exc)
            return
        for (*_, future), answer in zip(batch, answers):
            future.set_result(answer)
