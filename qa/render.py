"""Render answers, sources and document lists: safe HTML for the page, plain Markdown and
text for the API, the clipboard and the conversation download.

Document text is untrusted. Every piece of it goes through ``escape``: HTML special
characters become entities, and so do the characters Markdown gives a meaning to, so a
passage holding ``<script>``, ``<img onerror=…>`` or ``[x](javascript:…)`` shows as text.
Our own markup is a few plain HTML tags (``div``, ``span``, ``b``, ``small``, ``mark``,
``br``) with ``qa-…`` classes (the chat's sanitiser drops ``data-`` attributes, so a reply's
number and a marker's source travel as classes: ``qa-turn-3``, ``qa-n-1``) and no line break
inside a block, so a Markdown renderer passes it through as it is. The API, the clipboard and
the download get Markdown or plain text instead (``answer_markdown``, ``answer_plain``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from .records import Answer, Citation

POSSIBLY_RELATED = "可能相关（未找到答案）"
POSSIBLY_RELATED_SHORT = "可能相关："
SOURCES = "来源"
WRONG = "答案有误"
HELPFUL = "有帮助"
EVIDENCE_EMPTY = "提问后，这里显示回答所依据的原文；点击回答中的 [n] 可跳到对应出处。"
CONVERSATION_TITLE = "慈溪资料问答：对话记录"
REFUSAL_FALLBACK = "检索到的段落中没有能回答这个问题的句子。"
CHIP_TITLE_CHARS = 14  # a longer title is cut with … on a chip (the panel shows it whole)

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
_MD_INLINE = re.compile(r"[\\`*_{}\[\]()<>!|~$&]")
_MD_BLOCK = re.compile(r"^[#+=-]|^(\d{1,9})([.)])")


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
    """The answer escaped, its ``[n]`` markers (for existing sources ``citations``) as
    clickable references."""
    out, pos = [], 0
    for m in _MARKER.finditer(answer):
        if citations and int(m.group(1)) not in citations:
            continue
        out += [escape(answer[pos : m.start()]), ref(int(m.group(1)))]
        pos = m.end()
    out.append(escape(answer[pos:]))
    return "".join(out)


def ref(n: int) -> str:
    """A ``[n]`` marker that selects source ``n`` of its reply in the evidence panel."""
    return f'<span class="qa-ref qa-n-{n}" role="button" tabindex="0">[{n}]</span>'


def shown_citations(answer: Answer, max_sources: int | None = None) -> list[Citation]:
    """The first ``max_sources`` citations, plus any the answer refers to beyond them.

    A refusal that cites nothing shows the closest passages under 可能相关: those with the
    best score (the 相关度 shown beside each), best first, numbered in that order (the
    engine orders them by its sentence evidence, which the reader does not see)."""
    cited = {int(n) for n in _MARKER.findall(answer.answer)}
    limit = len(answer.citations) if max_sources is None else max(0, max_sources)
    if not answer.found and not cited and not answer.sentences:
        best = sorted(answer.citations, key=lambda c: -c.score)[:limit]  # stable on ties
        return [replace(c, n=n) for n, c in enumerate(best, 1)]
    return [c for i, c in enumerate(answer.citations) if i < limit or c.n in cited]


def place(c: Citation) -> str:
    """Where in its document a passage is, for a reader: the reader's location string, else
    the page(s), else "" (plain text, unescaped)."""
    if c.location:
        return c.location
    if c.page and c.page_end and c.page_end != c.page:
        return f"第 {c.page}–{c.page_end} 页"
    return f"第 {c.page} 页" if c.page else ""


def chip_label(c: Citation) -> str:
    """``[1] 文档 · 第 6 页``: the number, a short title and the place (plain text)."""
    title = c.title if len(c.title) <= CHIP_TITLE_CHARS else c.title[: CHIP_TITLE_CHARS - 1] + "…"
    return " · ".join(part for part in (f"[{c.n}] {title}", place(c)) if part)


def used_sentences(answer: Answer) -> list[tuple[int, str]]:
    """``(n, sentence)`` for every highlighted span of the cited passages, in source order."""
    return [(c.n, c.text[s:e].strip()) for c in answer.citations for s, e in c.highlights]


def headline(answer: Answer) -> str:
    """What is said first, in bold: the short answer, else the answer without its markers
    (for a refusal, without its reason, which is shown on its own line)."""
    text = _MARKER.sub("", answer.answer).strip()
    if not answer.found and answer.reason and answer.reason != text:
        text = text.replace(answer.reason, "").strip() or text
    return answer.short_answer or text


def refusal_reason(answer: Answer) -> str:
    """Why a refusal was given, unless the headline already says just that (plain text)."""
    reason = answer.reason or REFUSAL_FALLBACK
    return "" if reason == headline(answer) else reason


def render_note(note: str) -> str:
    """A small line above an answer, e.g. how a follow-up question was read."""
    return f'<small class="qa-note">{escape(note)}</small>'


def filter_note(count: int | None) -> str:
    """How a document filter limited retrieval (plain text), or ""."""
    return "" if count is None else f"仅在 {count} 篇文档中检索"


def reply_html(
    answer: Answer, turn: int, max_sources: int | None = None, notes: Sequence[str] = ()
) -> str:
    """One chat reply (HTML on one line, for the chat's Markdown): the notes, the short
    answer in bold, the quoted sentence(s) it rests on with ``[n]``, the reason of a refusal,
    a line of source chips, and the copy / feedback controls. ``turn`` numbers the reply
    so the page's script can show its sources in the evidence panel."""
    numbers = [c.n for c in answer.citations]
    parts = [render_note(n) for n in notes if n]
    parts.append(f'<b class="qa-short">{escape(headline(answer))}</b>')
    if answer.found:
        said = headline(answer)
        quotes = [(n, q) for n, q in used_sentences(answer) if q != said]
        if not quotes:  # the answer is the sentence itself: its [n] go on the answer
            parts[-1] = f'<b class="qa-short">{answer_text(answer.answer, numbers)}</b>'
        for n, sentence in quotes:
            parts.append(f'<span class="qa-quote">“{escape(sentence)}{ref(n)}”</span>')
    elif refusal_reason(answer):
        parts.append(f'<span class="qa-reason">原因：{escape(refusal_reason(answer))}</span>')
    shown = shown_citations(answer, max_sources)
    if shown:
        head = f'<span class="qa-chips-head">{POSSIBLY_RELATED_SHORT}</span>'
        lead = "" if answer.found else head
        chips = "".join(
            f'<span class="qa-chip qa-n-{c.n}" role="button" tabindex="0">'
            f"{escape(chip_label(c))}</span>"
            for c in shown
        )
        parts.append(f'<span class="qa-chips">{lead}{chips}</span>')
    copy = escape(answer_plain(answer, max_sources)).replace("<br>", "&#10;")
    button = '<span class="qa-act {}" role="button" tabindex="0">{}</span>'
    parts.append(
        '<span class="qa-actions">'
        + button.format("qa-copy", "复制")
        + button.format("qa-fb qa-verdict-wrong", WRONG)
        + button.format("qa-fb qa-verdict-helpful", HELPFUL)
        + f'<span class="qa-copytext">{copy}</span></span>'
    )
    return f'<div class="qa-reply qa-turn-{turn}">{"".join(parts)}</div>'


def source_html(c: Citation, turn: int) -> str:
    """One source in the evidence panel: number and title, section path, place and file,
    then the passage with the used sentence(s) highlighted."""
    where = " · ".join(escape(p) for p in (c.section, place(c), c.source, c.date) if p)
    return (
        f'<div class="qa-source" id="qa-src-{turn}-{c.n}">'
        f'<b class="qa-source-title">[{c.n}] {escape(c.title)}</b>'
        f'<small class="qa-where">{where} · 相关度 {c.score:.3f}</small>'
        f'<div class="qa-passage">{highlight(c.text, c.highlights)}</div></div>'
    )


def evidence_turn(answer: Answer, turn: int, max_sources: int | None = None) -> str:
    """The evidence of one reply: its question, then its sources, or for a refusal the
    reason and the closest passages under a separate 可能相关 heading."""
    shown = shown_citations(answer, max_sources)
    parts = [f'<div class="qa-ev-q">问：{escape(answer.question)}</div>']
    if answer.found:
        parts.append(f'<div class="qa-ev-head">{SOURCES}</div>')
    else:
        parts.append(f'<div class="qa-ev-refusal">{escape(headline(answer))}</div>')
        if refusal_reason(answer):
            parts.append(f'<div class="qa-reason">原因：{escape(refusal_reason(answer))}</div>')
        if shown:
            parts.append(f'<div class="qa-ev-head qa-related">{POSSIBLY_RELATED}</div>')
    if not shown:
        parts.append('<div class="qa-ev-none">没有可显示的段落。</div>')
    parts += [source_html(c, turn) for c in shown]
    return f'<div class="qa-ev qa-turn-{turn}">{"".join(parts)}</div>'


def evidence_html(answers: Sequence[Answer], max_sources: int | None = None) -> str:
    """The evidence panel: every reply's sources, the newest one shown (the page's script
    shows another when its reply, ``[n]`` or chip is clicked)."""
    if not answers:
        return f'<div class="qa-evidence"><div class="qa-ev-empty">{EVIDENCE_EMPTY}</div></div>'
    turns = [evidence_turn(a, i, max_sources) for i, a in enumerate(answers)]
    turns[-1] = turns[-1].replace('class="qa-ev ', 'class="qa-ev qa-ev-active ', 1)
    return f'<div class="qa-evidence">{"".join(turns)}</div>'


# --- plain text and Markdown (API, copy, download) -----------------------------------


def md_escape(text: object) -> str:
    """``text`` as literal Markdown: inline syntax characters backslash-escaped (so document
    text cannot make links, images, tags or fake ``[n]`` markers), a block marker at a line
    start too, line breaks kept."""
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _MD_INLINE.sub(r"\\\g<0>", line.strip())
        lines.append(_MD_BLOCK.sub(_escape_block, line, count=1))
    return "  \n".join(lines)


def _escape_block(m: re.Match) -> str:
    return f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group()}"


def _md_answer(answer: str) -> str:
    """The answer as Markdown with its ``[n]`` markers kept as they are."""
    pieces = _MARKER.split(answer)  # text, n, text, n, ...
    return "".join(md_escape(p) if i % 2 == 0 else f"[{p}]" for i, p in enumerate(pieces))


def _md_source(c: Citation) -> str:
    where = " · ".join(md_escape(p) for p in (c.section, place(c), c.source, c.date) if p)
    passage, pos = [], 0
    for start, end in sorted(c.highlights):
        start, end = max(start, pos), min(end, len(c.text))
        if start < end:
            passage += [md_escape(c.text[pos:start]), f"**{md_escape(c.text[start:end])}**"]
            pos = end
    passage.append(md_escape(c.text[pos:]))
    body = "".join(passage).replace("  \n", "  \n> ")
    return f"[{c.n}] **{md_escape(c.title)}** · {where}\n> {body}"


def answer_markdown(answer: Answer, max_sources: int | None = None) -> str:
    """The reply as plain Markdown (no HTML): the answer with ``[n]`` markers, the reason of a
    refusal, then the numbered sources (title, section, place, file; passage quoted with the
    used sentence in bold), under 来源 or, for a refusal, 可能相关."""
    parts = [_md_answer(answer.answer)]
    if not answer.found and refusal_reason(answer):
        parts.append(f"原因：{md_escape(refusal_reason(answer))}")
    shown = shown_citations(answer, max_sources)
    if shown:
        parts.append(f"**{SOURCES if answer.found else POSSIBLY_RELATED}**")
        parts += [_md_source(c) for c in shown]
    return "\n\n".join(parts)


def answer_plain(answer: Answer, max_sources: int | None = None) -> str:
    """The reply as plain text, for the clipboard: the answer with ``[n]``, then one line per
    numbered source (title, section, place) with the sentence it used."""
    lines = [answer.answer]
    if not answer.found and refusal_reason(answer):
        lines.append(f"原因：{refusal_reason(answer)}")
    shown = shown_citations(answer, max_sources)
    if shown:
        lines += ["", f"{SOURCES if answer.found else POSSIBLY_RELATED}："]
    for c in shown:
        where = " · ".join(p for p in (c.title, c.section, place(c)) if p)
        used = "".join(c.text[s:e] for s, e in c.highlights).strip()
        lines.append(f"[{c.n}] {where}" + (f"：“{used}”" if used else ""))
    return "\n".join(lines)


def conversation_markdown(answers: Sequence[Answer], max_sources: int | None = None) -> str:
    """The whole conversation as a Markdown document: each question, its answer and sources."""
    parts = [f"# {CONVERSATION_TITLE}"]
    for i, a in enumerate(answers, 1):
        parts += [f"## {i}. {md_escape(a.question)}", answer_markdown(a, max_sources)]
    return "\n\n".join(parts) + "\n"


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
