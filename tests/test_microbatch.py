"""The micro-batcher: concurrent questions share ask_many calls, answers go to the right
caller, a bad question fails alone, and overload is a clean ``Busy``."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.errors import Busy, QuestionError
from qa.microbatch import BUSY_MESSAGE, MicroBatcher


class Engine:
    """ask_many that echoes its questions and records the batch sizes."""

    def __init__(self, delay: float = 0.0):
        self.delay, self.sizes = delay, []
        self.lock = threading.Lock()

    def ask_many(self, questions, histories):
        with self.lock:
            self.sizes.append(len(questions))
        time.sleep(self.delay)
        if any(q == "bad" for q in questions):
            raise QuestionError("问题为空：请输入一个问题。")
        return [f"{q}|{'/'.join(h)}" for q, h in zip(questions, histories)]


def test_concurrent_questions_share_batches_and_get_their_own_answer():
    engine = Engine(delay=0.05)
    batcher = MicroBatcher(engine.ask_many, window_s=0.01)
    questions = [f"q{i}" for i in range(40)]
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda q: batcher.ask(q, (q + "h",)), questions))
    batcher.close()
    assert answers == [f"q{i}|q{i}h" for i in range(40)]
    assert sum(engine.sizes) == 40 and len(engine.sizes) < 20 and max(engine.sizes) > 1


def test_a_bad_question_fails_alone():
    engine = Engine(delay=0.02)
    batcher = MicroBatcher(engine.ask_many, window_s=0.05)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(batcher.ask, q) for q in ("a", "bad", "b")]
        assert futures[0].result() == "a|" and futures[2].result() == "b|"
        with pytest.raises(QuestionError):
            futures[1].result()
    batcher.close()


def test_too_many_waiting_is_a_clean_busy():
    engine = Engine(delay=0.3)
    batcher = MicroBatcher(engine.ask_many, window_s=0.0, max_batch=1, max_waiting=2)
    results = []

    def ask(q):
        try:
            results.append(batcher.ask(q))
        except Busy as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=ask, args=(f"q{i}",)) for i in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join()
    batcher.close()
    assert results.count(BUSY_MESSAGE) >= 2
    assert sum(r != BUSY_MESSAGE for r in results) >= 2


def test_an_answer_that_takes_too_long_is_busy():
    engine = Engine(delay=0.5)
    batcher = MicroBatcher(engine.ask_many, max_wait_s=0.1)
    with pytest.raises(Busy):
        batcher.ask("slow")
    batcher.close()


def test_async_callers_share_batches_and_get_the_same_busy():
    engine = Engine(delay=0.05)
    batcher = MicroBatcher(
        engine.ask_many, window_s=0.01, max_waiting=20, max_wait_s=5, dispatchers=1
    )

    async def ask_all(n: int) -> list:
        asks = [batcher.ask_async(f"q{i}", (f"h{i}",)) for i in range(n)]
        return await asyncio.gather(*asks, return_exceptions=True)

    async def crowd() -> list:
        first = asyncio.ensure_future(batcher.ask_async("first"))
        await asyncio.sleep(0.1)  # the dispatcher is busy answering it: nothing leaves the queue
        return [await first] + await ask_all(30)

    assert asyncio.run(ask_all(12)) == [f"q{i}|h{i}" for i in range(12)]
    assert max(engine.sizes) > 1, "awaiting callers share a batch"
    engine.delay = 0.3
    answers = asyncio.run(crowd())
    assert answers[0] == "first|" and answers[1:21] == [f"q{i}|h{i}" for i in range(20)]
    assert all(isinstance(a, Busy) and str(a) == BUSY_MESSAGE for a in answers[21:])
    batcher.close()
    slow = MicroBatcher(Engine(delay=0.5).ask_many, max_wait_s=0.1)
    with pytest.raises(Busy, match=BUSY_MESSAGE):
        asyncio.run(slow.ask_async("slow"))
    slow.close()


def test_a_slow_batch_does_not_hold_up_the_next():
    release, order = threading.Event(), []

    def ask_many(questions, histories):
        if questions[0] == "slow":
            release.wait(5)
        order.append(questions[0])
        return list(questions)

    batcher = MicroBatcher(ask_many, window_s=0.0)
    slow = batcher.submit("slow")
    time.sleep(0.05)  # one dispatcher is now inside the slow batch
    assert batcher.ask("quick") == "quick", "the other dispatcher answers meanwhile"
    release.set()
    assert slow.result(5) == "slow" and order == ["quick", "slow"]
    batcher.close()
    assert not any(t.is_alive() for t in batcher._threads), "close stops every dispatcher"


def test_questions_are_grouped_by_engine_and_filter():
    calls = []

    def engine(name):
        def ask_many(questions, histories, sources=None):
            calls.append((name, tuple(questions), sources))
            time.sleep(0.02)
            return [f"{name}:{q}:{sorted(sources or [])}" for q in questions]

        return ask_many

    shared, session = engine("shared"), engine("session")
    batcher = MicroBatcher(shared, window_s=0.05, dispatchers=1)  # all five in one batch
    asks = [
        ("a", None, None),
        ("b", ["x.md"], None),
        ("c", None, session),
        ("d", None, None),
        ("e", ["x.md"], None),
    ]
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(batcher.ask, q, (), s, e) for q, s, e in asks]
        answers = [f.result() for f in futures]
    batcher.close()
    assert answers == [
        "shared:a:[]",
        "shared:b:['x.md']",
        "session:c:[]",
        "shared:d:[]",
        "shared:e:['x.md']",
    ]
    assert len(calls) == 3 and batcher.batches == 3
    assert {(name, s and tuple(s)) for name, _, s in calls} == {
        ("shared", None),
        ("shared", ("x.md",)),
        ("session", None),
    }
