"""Render answers, sources and document lists as safe Markdown (with inline HTML).

Document text is untrusted. Every piece of it goes through ``escape``: HTML special
characters become entities, and so do the characters Markdown gives a meaning to, so a
passage holding ``<script>``, ``<img onerror=…>`` or ``[x](javascript:…)`` shows as text.
Our own markup is a few plain HTML tags (``div``, ``mark``, ``b``, ``sup``, ``br``) with
no blank line inside a block, so a Markdown renderer passes it through as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .records import Answer, Citation

POSSIBLY_RELATED = "可能相关（未找到答案）"
SOURCES = "来源"

# What ``html.escape`` escapes, plus the characters Markdown (or the chat's LaTeX) reads as
# inline syntax, as numeric character references: no link, image, emphasis, code or tag
# can form. Block syntax (# heading, - list, 1. list, > quote, indented code) only counts at
# the start of a line, and escaped text has no line starts of its own: its line breaks
# become <br>, and a block marker at its very start is written as a reference too.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"} | {
    c: f"&#{ord(c)};" for c in "\\`*_{}[]()!|~$:"
}
_BLOCK_START = re.compile(r"[ \t#+=-]|\d{1,9}\.(?=[ \t]|<br>|$)")
_MARKER = re.compile(r"\[(\d+)\]")


def escape(text: object) -> str:
    """``text`` as inert Markdown/HTML (see ``_ESCAPES``), line breaks as ``<br>``."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(_ESCAPES.get(c, c) for c in text).replace("\n", "<br>")
    start = _BLOCK_START.match(out)
    if start:  # "1." -> "1&#46;", "# " -> "&#35; "
        end = start.end() - 1
        out = f"{out[:end]}&#{ord(out[end])};{out[end + 1 :]}"
    return out


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escaped ``text`` with the ``(start, end)`` spans wrapped in ``<mark>``."""
    out, pos = [], 0
    for start, end in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        out += [escape(text[pos:start]), "<mark>", escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def answer_text(answer: str, citations: Sequence[int] = ()) -> str:
    """The answer escaped, its ``[n]`` markers (for existing sources ``citations``) in bold."""
    out, pos = [], 0
    for m in _MARKER.finditer(answer):
        if citations and int(m.group(1)) not in citations:
            continue
        out += [escape(answer[pos : m.start()]), f"<sup><b>[{int(m.group(1))}]</b></sup>"]
        pos = m.end()
    out.append(escape(answer[pos:]))
    return "".join(out)


def shown_citations(answer: Answer, max_sources: int | None = None) -> list[Citation]:
    """The first ``max_sources`` citations, plus any the answer refers to beyond them."""
    cited = {int(n) for n in _MARKER.findall(answer.answer)}
    limit = len(answer.citations) if max_sources is None else max(0, max_sources)
    return [c for i, c in enumerate(answer.citations) if i < limit or c.n in cited]


def citation(c: Citation) -> str:
    """One numbered source: title, section, file, score, then the passage with the used
    sentence(s) highlighted."""
    where = " · ".join(escape(part) for part in (c.section, c.source, c.location, c.date) if part)
    return (
        f'<div class="qa-source"><b>[{c.n}] {escape(c.title)}</b>'
        f"<br><small>{where} · 相关度 {c.score:.3f}</small>"
        f'<div class="qa-passage">{highlight(c.text, c.highlights)}</div></div>'
    )


def sources(answer: Answer, max_sources: int | None = None) -> str:
    """The numbered sources under a heading; for a refusal, marked as possibly related."""
    shown = shown_citations(answer, max_sources)
    if not shown:
        return ""
    heading = SOURCES if answer.found else POSSIBLY_RELATED
    body = "\n".join(citation(c) for c in shown)
    return f"**{heading}**\n\n{body}"


def render_note(note: str) -> str:
    """A small line above an answer, e.g. how a follow-up question was read."""
    return f"<small>{escape(note)}</small>"


def render_answer(answer: Answer, max_sources: int | None = None, note: str = "") -> str:
    """The whole reply as Markdown: an optional note (e.g. how a follow-up was read),
    the answer with [n] markers, then the sources."""
    parts = [render_note(note)] if note else []
    parts.append(answer_text(answer.answer, [c.n for c in answer.citations]))
    block = sources(answer, max_sources)
    if block:
        parts.append(block)
    return "\n\n".join(parts)


def render_documents(documents: Sequence[dict]) -> str:
    """A Markdown table of the knowledge base's documents."""
    if not documents:
        return "知识库中还没有文档。"
    rows = ["| 文件 | 标题 | 段落数 |", "| --- | --- | ---: |"]
    rows += [
        f"| {escape(d['source'])} | {escape(d['title'])} | {int(d['chunks'])} |" for d in documents
    ]
    return "\n".join(rows)


def describe_knowledge_base(documents: Sequence[dict]) -> str:
    """A short description: how many documents and passages, and their titles."""
    passages = sum(int(d["chunks"]) for d in documents)
    lines = [f"知识库共 **{len(documents)}** 篇文档、**{passages}** 个段落："]
    lines += [f"- {escape(d['title'])}（{int(d['chunks'])} 段）" for d in documents]
    return "\n".join(lines)
