"""What every answerer offers: whole answers, batches, and a stream of checked sentences."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Protocol

from ..assistant import Assistant
from ..records import Answer, Sentence


class Answerer(Protocol):
    """``stream`` yields the answer's sentences as each is ready to show (checked), then the
    final ``Answer`` (which is what ``ask`` returns). ``sources`` (document names; None:
    all) limits retrieval; ``over(assistant)`` is the same answerer over another assistant."""

    mode: str
    assistant: Assistant  # retrieval and the extractive answer, shared

    def ask(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Answer: ...

    def ask_many(
        self, questions: Sequence[str], histories: Sequence[Sequence[str]] | None = None
    ) -> list[Answer]: ...

    def over(self, assistant: Assistant) -> Answerer: ...

    def stream(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Iterator[Sentence | Answer]: ...


def final(items: Iterator[Sentence | Answer]) -> Answer:
    """The ``Answer`` a stream ends with."""
    answer = None
    for item in items:
        answer = item
    if not isinstance(answer, Answer):
        raise RuntimeError("an answer stream ended without an Answer")
    return answer
