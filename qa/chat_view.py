"""A reply as Markdown as it streams: checked sentences as they come, then the whole reply
with the answering mode, any notice, and the numbered sources (safe Markdown, see ``render``).
The app's chat tab (``qa/ui_chat.py``) shows its own HTML reply and uses ``MODE_LABELS``,
``TYPING`` and ``partial_reply`` from here."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

from .answerers import Answerer
from .answerers.llm import join_sentences
from .records import Answer, Sentence
from .render import answer_markdown, answer_text, render_note

MODE_LABELS = {
    "extractive": "回答方式：摘录原文",
    "llm": "回答方式：语言模型撰写，每句已与所引出处核对",
}
TYPING = " <small>▍正在核对…</small>"


def render_reply(answer: Answer, max_sources: int | None = None, note: str = "") -> str:
    """How the follow-up was read (``note``), the notice, the answer with [n] markers, which
    mode answered, then the sources."""
    parts = [render_note(note)] if note else []
    if answer.notice:
        parts.append(render_note(f"⚠ {answer.notice}"))
    parts.append(render_note(MODE_LABELS.get(answer.mode, answer.mode)))
    parts.append(answer_markdown(answer, max_sources))
    return "\n\n".join(parts)


def partial_reply(sentences: Sequence[str]) -> str:
    """The checked sentences shown so far, with the typing indicator."""
    return answer_text(join_sentences(sentences)) + TYPING


def followup_note(answer: Answer) -> str:
    return (
        f"结合上文理解为：{answer.query}"
        if answer.query and answer.query != answer.question
        else ""
    )


def stream_reply(
    answerer: Answerer,
    question: str,
    history: Sequence[str] = (),
    max_sources: int | None = None,
    steps: int = 10,
    delay: float = 0.04,
) -> Iterator[str]:
    """The assistant message's content as it grows. A model's sentences appear one by one,
    each only once it passed its check, with a typing indicator; an extract (a sentence of
    the documents) is typed out in ``steps`` steps ``delay`` seconds apart. Ends with the
    whole reply (``render_reply``)."""
    shown: list[str] = []
    answer = None
    for item in answerer.stream(question, history):
        if isinstance(item, Sentence):
            shown.append(item.text)
            if answerer.mode == "llm":
                yield partial_reply(shown)
        else:
            answer = item
    if answer is None:
        raise RuntimeError("the answerer gave no answer")
    if answer.mode == "extractive" and not answer.notice:
        step = max(1, math.ceil(len(answer.answer) / steps))
        for end in range(step, len(answer.answer), step):
            yield answer_text(answer.answer[:end])
            time.sleep(delay)
    yield render_reply(answer, max_sources, followup_note(answer))
