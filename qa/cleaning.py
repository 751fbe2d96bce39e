"""Repair text converted from PDF or Word into one paragraph a line.

The output is "normalised Markdown": each paragraph on one line, headings marked with
``#``, blank lines dropped. Sentences broken across blank lines at old page breaks are
joined, and Markdown emphasis, images and links are reduced to their text.
"""

from __future__ import annotations

import re
import unicodedata

MARK = "\ue000"  # a reader's location mark (qa.readers.base.MARK): kept at its line's start
TERMINAL = "。！？!?；;…:：”’」』)）》】"
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_NUMBERED = re.compile(
    r"^(第[一二三四五六七八九十百零\d]+[篇编部章节]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]"
    r"|\d{1,2}[、．.](?!\d)|[（(]\d{1,2}[）)])"
)
_NUMBER_LEVEL = [("篇", 2), ("编", 2), ("部", 2), ("章", 3), ("节", 4)]
_BOLD_LEAD = re.compile(r"^\*\*([^*]+)\*\*(.+)$")  # **（一）标题。**正文
MAX_HEADING = 40  # characters: a longer line is body text even if numbered


def numbering_level(line: str) -> int | None:
    """Level implied by Chinese section numbering (第一篇 2, 第一章 3, 第一节 4, 一、 5,
    （一） 6, 1、 7, (1) 8), or None when the line is not numbered."""
    m = _NUMBERED.match(line)
    if not m:
        return None
    tag = m.group(1)
    if tag.startswith("第"):
        return dict(_NUMBER_LEVEL)[tag[-1]]
    if tag.endswith("、") and not tag[0].isdigit():
        return 5
    if tag[0] in "（(" and not tag[1].isdigit():
        return 6
    if tag[0].isdigit():
        return 7
    return 8


def heading_level(line: str) -> int | None:
    """Level of a normalised line that is a heading, else None.

    Numbering decides where present (Markdown levels in converted files are unreliable);
    otherwise the count of ``#``.
    """
    if not line.startswith("#"):
        return None
    text = line.lstrip("#").strip()
    return numbering_level(text) or min(len(line) - len(line.lstrip("#")), 4)


def heading_text(line: str) -> str:
    return line.lstrip("#").strip()


_LATIN_END = re.compile(r"[A-Za-z0-9,.;:!?%)\]'\"]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9(\['\"]")


def join_text(left: str, right: str) -> str:
    """Join two pieces of a wrapped line: a space only between Latin words (none between
    CJK characters, none inside a number broken at the line end: ``20`` + ``17年``)."""
    if not left or not right:
        return left + right
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[0].islower():
        return left[:-1] + right  # a hyphenated word
    if left[-1] in "0123456789.," and right[0].isdigit():
        return left + right
    if _LATIN_END.search(left) and _LATIN_START.match(right):
        return left + " " + right
    return left + right


def _inline_markdown(line: str) -> str:
    line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # images -> alt text
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # links -> text
    line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
    return line.replace("**", "")


def _tidy_spaces(line: str) -> str:
    """Drop spaces a PDF put between CJK characters and digits or punctuation."""
    line = re.sub(rf"(?<=[{_CJK}])[ \u3000]+(?=[\d%（(，。、])", "", line)
    line = re.sub(rf"(?<=[\d%）)，。、])[ \u3000]+(?=[{_CJK}])", "", line)
    return re.sub(r"[ \t\u3000]{2,}", " ", line).strip()


def _is_plain_heading(line: str) -> bool:
    """A short line with no sentence punctuation, as plain-text headings are."""
    return len(line) <= MAX_HEADING // 2 + 10 and not re.search(r"[。！？!?；;，,]", line)


def repair_text(raw: str, markdown: bool = False) -> str:
    """Normalise ``raw`` to one paragraph a line with ``#`` headings.

    In plain text, a short unpunctuated line becomes a heading; in both kinds a short
    numbered line (一、… （一）… 第一章…) does. A paragraph that stops mid-sentence (no
    terminal punctuation) is joined with the next paragraph.
    """
    raw = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    raw = raw.replace("\ufeff", "").replace("\u00a0", " ")
    out: list[str] = []
    open_sentence = False  # the last paragraph stopped mid-sentence
    lines = []
    for line in raw.split("\n"):
        lead = _BOLD_LEAD.match(line.strip())
        if lead and numbering_level(lead.group(1)) and len(lead.group(1)) <= MAX_HEADING:
            lines += ["#### " + lead.group(1).rstrip("。：:"), lead.group(2)]
        else:
            lines.append(line)
    pending = ""  # location marks seen since the last kept line
    guessed: list[int] = []  # lines of ``out`` taken for headings only for being short
    for line in lines:
        pending += MARK * line.count(MARK)
        line = _tidy_spaces(_inline_markdown(line.replace(MARK, "")))
        if not line:
            continue
        heading = None
        if line.startswith("#") and (markdown or line.startswith("#### ")):
            heading = "#" * min(len(line) - len(line.lstrip("#")), 6) + " " + heading_text(line)
        elif len(line) <= MAX_HEADING and numbering_level(line) and line[-1] not in "。；;，,":
            heading = "#### " + line
        elif not markdown and not open_sentence and _is_plain_heading(line):
            heading = "## " + heading_text(line)
            guessed.append(len(out))
        if heading:
            out.append(pending + heading)
            open_sentence = False
        elif open_sentence:  # a space between Latin words, none in Chinese
            joined = join_text(out[-1], line)  # always ends with ``line``
            cut = len(joined) - len(line)
            out[-1] = joined[:cut] + pending + joined[cut:]
        else:  # a body line must not start with "#": chunking would take it for a heading
            out.append(pending + ("＃" + line[1:] if line.startswith("#") else line))
        if not heading:
            open_sentence = len(out[-1]) >= 30 and out[-1][-1] not in TERMINAL
        pending = ""
    # short lines at the very end with nothing under them (a byline 撰文 …, captions, a
    # credit line) are text, not headings: they would head no passage and be lost
    k = len(out) - 1
    while k >= 0 and guessed and guessed[-1] == k:
        marks = out[k][: len(out[k]) - len(out[k].lstrip(MARK))]
        out[k] = marks + heading_text(out[k][len(marks) :])
        guessed.pop()
        k -= 1
    return "\n".join(out) + pending


def title_of(text: str, fallback: str) -> str:
    """The first heading (or short first lines) of normalised text, else ``fallback``."""
    lines = text.split("\n")[:3]
    for line in lines:
        if line.startswith("# "):
            return heading_text(line)
    parts: list[str] = []
    for line in lines:
        if not line.startswith("#") or len("".join(parts)) >= 8:
            break
        parts.append(heading_text(line))
    return " ".join(parts) or fallback
