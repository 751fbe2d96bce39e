"""Generative answers from an OpenAI-compatible model, every cited sentence checked.

1. Gate: the extractive answerer decides first; when the documents do not answer, the
   model is not called (no cost, nothing to invent).
2. The model gets the question, the earlier questions and the numbered passages
   (``qa/prompts/answer.txt``) and streams its reply.
3. Each sentence, once complete, is checked (``qa.verify``); only a supported one is
   yielded (with any lead-in before it), so nothing unchecked is ever shown. Unsupported
   sentences are removed, not marked: a marked claim is still read, and copied, as a fact.
4. The model's refusal is honoured; a failure (unreachable, timeout, malformed reply) or a
   reply with nothing supported left gives the extractive answer with a notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from time import perf_counter

import numpy as np

from ..assistant import NOT_FOUND, Assistant
from ..chunking import sentence_spans
from ..errors import LLMError
from ..llm_client import LLMClient
from ..prompt import build_messages
from ..records import Answer, Citation, Sentence
from ..verify import (
    SentenceCheck,
    SupportParams,
    best_span,
    check_sentence,
    complete_sentences,
)
from .base import final
from .extractive import ExtractiveAnswerer

log = logging.getLogger(__name__)

# Every user-facing text of this answerer.
NOTICES = {
    "unreachable": "无法连接语言模型，以下为摘录原文的回答。",
    "timeout": "语言模型响应超时，以下为摘录原文的回答。",
    "rate_limited": "语言模型繁忙（请求过多），以下为摘录原文的回答。",
    "server": "语言模型服务出错，以下为摘录原文的回答。",
    "malformed": "语言模型的回复格式有误，以下为摘录原文的回答。",
    "unsupported": "语言模型的回答无法在出处中逐句核实，以下为摘录原文的回答。",
    "removed": "已删去 {n} 句在所引出处中找不到依据的内容。",
    "interrupted": "语言模型的回答中途中断，只显示已核实的部分。",
}
MODEL_REFUSED = "语言模型判断这些段落不能回答这个问题。"


@dataclass
class LLMTrace:
    """What happened to one question, for ``qa eval --llm``."""

    question: str
    called: bool = False
    outcome: str = ""  # gated, answered, refused, fallback:<why>
    checks: list[SentenceCheck] = field(default_factory=list)
    seconds: float = 0.0  # of the model call, its reply streamed and checked


def passage_text(c: Citation) -> str:
    """What a sentence citing ``c`` may draw on: title, section and text."""
    return "\n".join(part for part in (c.title, c.section, c.text) if part)


def join_sentences(texts: Sequence[str]) -> str:
    """Sentences as one text: Chinese ones run on, others get a space between."""
    out = ""
    for t in texts:
        out += (" " if out and out[-1].isascii() and t[:1].isascii() else "") + t
    return out


class LLMAnswerer:
    mode = "llm"

    def __init__(
        self,
        assistant: Assistant,
        client: LLMClient,
        support: SupportParams = SupportParams(),
        entities: Callable[[str], Sequence[str]] | None = None,
        trace: list[LLMTrace] | None = None,
    ):
        from ..entities import EntityTagger

        self.assistant = assistant
        self.client = client
        self.support = support
        self.entities = entities or EntityTagger()
        self.extractive = ExtractiveAnswerer(assistant)
        self.trace = trace  # when a list, one LLMTrace per question is appended
        self._trace_lock = threading.Lock()

    # --- the Answerer protocol ---------------------------------------------------

    def ask(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Answer:
        return final(self.stream(question, history, sources))

    def ask_many(
        self, questions: Sequence[str], histories: Sequence[Sequence[str]] | None = None
    ) -> list[Answer]:
        histories = list(histories) if histories else [() for _ in questions]
        return [self.ask(q, h) for q, h in zip(questions, histories)]

    def stream(
        self, question: str, history: Sequence[str] = (), sources: Collection[str] | None = None
    ) -> Iterator[Sentence | Answer]:
        base = self.extractive.ask(question, history, sources)
        trace = LLMTrace(base.question)
        if not base.found:  # the gate: no model call when the documents do not answer
            trace.outcome = "gated"
            self._record(trace)
            yield base
            return
        trace.called = True
        messages = build_messages(
            base.question,
            base.citations,
            history,
            refusal=NOT_FOUND,
            budget_chars=self.client.config.context_chars,
        )
        check = self._checker(base.citations)
        buffer, error, start = "", None, perf_counter()
        pending: list[SentenceCheck] = []  # sentences that claim nothing wait for a claim

        def judged(sentences: list[str]) -> Iterator[Sentence]:
            for sentence in sentences[len(trace.checks) :]:
                result = check(sentence)
                trace.checks.append(result)
                if result.supported:
                    yield from (_sentence(c) for c in pending + [result])
                    pending.clear()
                elif result.shown:
                    pending.append(result)

        try:
            for piece in self.client.reply(messages):
                buffer += piece
                yield from judged(complete_sentences(buffer))
            yield from judged(complete_sentences(buffer, final=True))
        except LLMError as exc:
            log.warning("language model failed (%s): %s", exc.kind, exc)
            error = exc
        trace.seconds = perf_counter() - start
        answer = self._final(base, trace, error)
        self._record(trace)
        yield answer

    def over(self, assistant: Assistant) -> LLMAnswerer:
        """The same model, checker and tagger over another assistant (a session's own
        documents on top of the shared ones)."""
        if assistant is self.assistant:
            return self
        return LLMAnswerer(assistant, self.client, self.support, self.entities, self.trace)

    # --- helpers -----------------------------------------------------------------

    def _checker(self, citations: Sequence[Citation]) -> Callable[[str], SentenceCheck]:
        """``check(sentence)`` against these passages (embedding similarity included)."""
        passages = {c.n: passage_text(c) for c in citations}
        encoder = self.assistant.encoder
        lock = self.assistant._lock  # the assistant's encoder calls are serialised by it
        with lock:
            vectors = dict(zip(passages, encoder.encode_passages(list(passages.values()))))

        def similarity(sentence: str, numbers: Sequence[int]) -> float:
            with lock:
                v = encoder.encode_passages([sentence])[0]
            return float(max(np.dot(vectors[n], v) for n in numbers))

        def check(sentence: str) -> SentenceCheck:
            return check_sentence(
                sentence, passages, similarity, self.entities, self.support, NOT_FOUND
            )

        return check

    def _final(self, base: Answer, trace: LLMTrace, error: LLMError | None) -> Answer:
        checks = trace.checks
        supported = [c for c in checks if c.supported]
        if not supported:
            if error is None and any(c.refusal for c in checks):
                trace.outcome = "refused"  # the model's own refusal is honoured
                return replace(
                    base,
                    answer=NOT_FOUND,
                    found=False,
                    short_answer="",
                    reason=MODEL_REFUSED,
                    mode="llm",
                    notice="",
                    sentences=(),
                    citations=tuple(replace(c, highlights=()) for c in base.citations),
                )
            why = error.kind if error is not None else "unsupported"
            trace.outcome = f"fallback:{why}"
            return replace(base, mode="extractive", notice=NOTICES.get(why, NOTICES["server"]))
        trace.outcome = "answered"
        shown = [c for c in checks if c.shown]
        removed = sum(c.claim and not c.supported for c in checks)
        notices = [NOTICES["removed"].format(n=removed)] if removed else []
        if error is not None:
            notices.append(NOTICES["interrupted"])
        return replace(
            base,
            answer=join_sentences([c.text for c in shown]),
            short_answer="",
            reason="",
            mode="llm",
            notice="".join(notices),
            sentences=tuple(_sentence(c) for c in checks if not c.refusal),
            confidence=min(c.probability for c in supported),
            citations=_highlighted(base.citations, supported),
        )

    def _record(self, trace: LLMTrace) -> None:
        if self.trace is not None:
            with self._trace_lock:
                self.trace.append(trace)


def _sentence(check: SentenceCheck) -> Sentence:
    return Sentence(check.text, check.citations, check.shown)


def _highlighted(citations: Sequence[Citation], checks: Sequence[SentenceCheck]) -> tuple:
    """The citations with, in each cited passage, the sentence each claim draws on marked."""
    out = []
    for c in citations:
        spans = sentence_spans(c.text)
        marks = {best_span(k.text, c.text, spans) for k in checks if c.n in k.citations}
        out.append(replace(c, highlights=tuple(sorted(m for m in marks if m))))
    return tuple(out)
