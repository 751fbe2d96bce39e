"""Split a normalised document into chunks: by heading, then by sentence."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass

from .cleaning import heading_level, heading_text
from .readers.base import pages_label
from .records import Chunk, Document, Mark

# A sentence ends at 。！？；!?; (plus any closing quotes/brackets that follow) or at a line end.
_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)]*|\n|$)")


@dataclass(frozen=True)
class ChunkParams:
    size: int = 300  # characters a chunk aims not to exceed
    overlap: int = 60  # characters of trailing sentences repeated in the next chunk

    def to_json(self) -> dict:
        return {"size": self.size, "overlap": self.overlap}


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text[start:end]``, whitespace trimmed."""
    end = len(text) if end is None else end
    spans = []
    for m in _SENTENCE.finditer(text, start, end):
        a, b = m.span()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def _hard_split(a: int, b: int, size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``size`` into pieces of at most ``size`` characters."""
    return [(i, min(i + size, b)) for i in range(a, b, size)]


def pack_spans(spans: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive sentence spans into windows of about ``size`` characters.

    Each window after the first starts with the trailing sentences of the previous one
    that fit in ``overlap`` characters. Returns the (start, end) of each window.
    """
    pieces: list[tuple[int, int]] = []
    for a, b in spans:
        pieces.extend(_hard_split(a, b, size) if b - a > size else [(a, b)])
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j = i + 1
        while j < len(pieces) and pieces[j][1] - pieces[i][0] <= size:
            j += 1
        windows.append((pieces[i][0], pieces[j - 1][1]))
        if j >= len(pieces):
            break
        k = j  # step back over trailing sentences that fit in the overlap, as long as
        # the next window still reaches the next piece (else it would add nothing new)
        while (
            k - 1 > i
            and pieces[j - 1][1] - pieces[k - 1][0] <= overlap
            and pieces[j][1] - pieces[k - 1][0] <= size
        ):
            k -= 1
        i = k
    return windows


def locate(
    marks: tuple[Mark, ...], start: int, end: int, offsets: list[int] | None = None
) -> tuple[int | None, int | None, str]:
    """``(page, page_end, location)`` of the text between offsets ``start`` and ``end``
    (``offsets``: the marks' starts, when the caller has them)."""
    offsets = [m.start for m in marks] if offsets is None else offsets
    i = bisect_right(offsets, start) - 1
    if i < 0:
        return None, None, ""
    first = marks[i]
    last = marks[max(bisect_right(offsets, max(end - 1, start)) - 1, i)]
    if first.page is None:
        return None, None, first.label
    return first.page, last.page, pages_label(first.page, last.page)


def chunk_id(source: str, section: tuple[str, ...], text: str) -> str:
    key = "\x1f".join([source, *section, text])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def chunk_document(doc: Document, params: ChunkParams = ChunkParams()) -> list[Chunk]:
    """Chunks of ``doc`` in reading order; each stays inside one section.

    A heading line sets the heading path (a heading pops every heading at its level or
    deeper); body lines under the same path are packed sentence by sentence.
    """
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    body: list[tuple[int, int]] = []  # sentence spans of the current section

    def flush() -> None:
        section = tuple(t for _, t in path)
        for a, b in pack_spans(body, params.size, params.overlap):
            text = doc.text[a:b]
            page, page_end, location = locate(doc.marks, a, b, offsets)
            cid = chunk_id(doc.source, section, text)
            chunks.append(
                Chunk(
                    cid,
                    doc.source,
                    doc.title,
                    section,
                    a,
                    b,
                    text,
                    page,
                    page_end,
                    location,
                    doc.date,
                )  # fmt: skip
            )
        body.clear()

    offsets = [m.start for m in doc.marks]
    splits = {m.start for m in doc.marks if m.split}  # rows: each its own passage
    pos = 0
    for line in doc.text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        level = heading_level(line)
        if level is None:
            if start in splits:
                flush()
            body.extend(sentence_spans(doc.text, start, start + len(line)))
            continue
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading_text(line)))
    flush()
    return chunks
