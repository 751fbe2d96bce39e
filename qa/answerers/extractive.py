"""The offline default: the assistant's extractive answer (a sentence of the documents)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace

from ..assistant import Assistant
from ..records import Answer, Sentence
from ..verify import marker_numbers


def with_sentences(answer: Answer) -> Answer:
    """The answer with its one cited sentence filled in (refusals have none)."""
    if answer.sentences or not answer.found:
        return answer
    sentence = Sentence(answer.answer, marker_numbers(answer.answer), True)
    return replace(answer, mode="extractive", sentences=(sentence,))


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    def ask(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Answer:
        return with_sentences(self.assistant.ask(question, history, sources=sources))

    def ask_many(
        self, questions: Sequence[str], histories: Sequence[Sequence[str]] | None = None
    ) -> list[Answer]:
        return [with_sentences(a) for a in self.assistant.ask_many(questions, histories)]

    def over(self, assistant: Assistant) -> ExtractiveAnswerer:
        return self if assistant is self.assistant else ExtractiveAnswerer(assistant)

    def stream(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Iterator[Sentence | Answer]:
        answer = self.ask(question, history, sources)
        yield from answer.sentences
        yield answer
