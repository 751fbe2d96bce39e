"""From positioned lines (a PDF's text layer or OCR boxes) to one paragraph a line.

Pure functions over ``Line`` records with page coordinates (origin top left, y down):
reading order (XY-cut, so columns are read one after the other), running headers,
footers and page numbers dropped, headings from font size, lines joined the way Chinese
is written (no space between CJK characters, a space between Latin words).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, replace

from ..cleaning import join_text

MARGIN = 0.1  # top and bottom share of the page where running headers/footers live
REPEAT_SHARE = 0.5  # a margin line on at least this share of the pages (and ≥ 2) is running
HEADING_RATIO = 1.15  # a line this much larger than the body text is a heading
OCR_HEADING_RATIO = 1.4  # OCR box heights vary with the glyphs (digits, %, Latin): titles only
PAGE_NUMBER = re.compile(
    r"^(?:[-—–‒]\s*\d{1,4}\s*[-—–‒]|第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}|[Pp]age\s*\d{1,4}(?:\s*of\s*\d{1,4})?|\d{1,4})$"
)


@dataclass(frozen=True)
class Line:
    text: str
    x0: float
    y0: float  # top
    x1: float
    y1: float  # bottom
    size: float  # font size (or box height for OCR)


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    width: float
    height: float
    lines: tuple[Line, ...]
    ocr: bool = False


def merge_segments(lines: list[Line]) -> list[Line]:
    """Segments on the same visual line (vertical overlap over half the smaller height)
    become one line, left to right; lines keep their order otherwise."""
    out: list[Line] = []
    for seg in lines:
        prev = out[-1] if out else None
        if prev is not None:
            overlap = min(prev.y1, seg.y1) - max(prev.y0, seg.y0)
            smaller = min(prev.y1 - prev.y0, seg.y1 - seg.y0)
            if smaller > 0 and overlap > 0.5 * smaller and seg.x0 >= prev.x1 - 1:
                out[-1] = Line(
                    join_text(prev.text, seg.text),
                    prev.x0, min(prev.y0, seg.y0), seg.x1, max(prev.y1, seg.y1),
                    max(prev.size, seg.size),
                )  # fmt: skip
                continue
        out.append(seg)
    return out


def _gaps(spans: list[tuple[float, float]], min_gap: float) -> list[float]:
    """Cut positions in the empty stretches (wider than ``min_gap``) between ``spans``."""
    cuts, reach = [], None
    for a, b in sorted(spans):
        if reach is not None and a - reach > min_gap:
            cuts.append((reach + a) / 2)
        reach = b if reach is None else max(reach, b)
    return cuts


def reading_order(lines: list[Line]) -> list[Line]:
    """XY-cut: split at a vertical gap running through the whole block (columns, left
    first), else at the widest horizontal gap; within a row of boxes, left to right."""
    if len(lines) <= 1:
        return list(lines)
    height = statistics.median(line.y1 - line.y0 for line in lines)
    columns = _gaps([(line.x0, line.x1) for line in lines], 1.5 * height)
    if columns:
        parts: list[list[Line]] = [[] for _ in range(len(columns) + 1)]
        for line in lines:
            parts[sum(1 for c in columns if (line.x0 + line.x1) / 2 > c)].append(line)
        if all(len(part) >= 2 for part in parts):  # a column has lines; else a gap in a row
            return [line for part in parts for line in reading_order(part)]
    spans = sorted((line.y0, line.y1) for line in lines)
    best, cut, reach = 0.0, None, spans[0][1]
    for a, b in spans[1:]:
        if a - reach > best:
            best, cut = a - reach, (reach + a) / 2
        reach = max(reach, b)
    if cut is None:  # one row of boxes
        return sorted(lines, key=lambda line: line.x0)
    top = [line for line in lines if (line.y0 + line.y1) / 2 < cut]
    rest = [line for line in lines if (line.y0 + line.y1) / 2 >= cut]
    return reading_order(top) + reading_order(rest)


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def drop_running(pages: list[Page]) -> list[Page]:
    """Drop page numbers in the top/bottom margins, and margin lines that repeat on many
    pages (running title, 第 # 页 footers), keeping everything else."""

    def in_margin(line: Line, page: Page) -> bool:
        return line.y1 <= page.height * MARGIN or line.y0 >= page.height * (1 - MARGIN)

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_key(line.text) for line in page.lines if in_margin(line, page)})
    need = max(2, REPEAT_SHARE * len(pages))
    out = []
    for page in pages:
        kept = tuple(
            line
            for line in page.lines
            if not (
                in_margin(line, page)
                and (PAGE_NUMBER.match(line.text.strip()) or counts[_key(line.text)] >= need)
            )
        )
        out.append(replace(page, lines=kept))
    return out


def body_size(pages: list[Page]) -> float:
    """The font size most characters are set in."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 0)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def heading_levels(pages: list[Page], body: float, ratio: float = HEADING_RATIO) -> dict:
    """Rounded size → Markdown level (1 for the largest) for sizes well above ``body``."""
    sizes = sorted(
        {round(line.size, 0) for p in pages for line in p.lines if line.size >= body * ratio},
        reverse=True,
    )
    return {size: min(i + 1, 4) for i, size in enumerate(sizes)}


def _latin_share(text: str) -> float:
    return sum(1 for c in text if c.isascii() and c.isalpha()) / max(len(text), 1)


def page_text(page: Page, body: float, levels: dict) -> str:
    """The page as one paragraph a line, headings as ``#`` lines.

    A line continues the paragraph above when that one reached the right edge and this
    one is neither indented, nor a heading, nor far below. On an OCR page a heading by
    size must also be short of the right edge and mostly Chinese.
    """
    lines = [line for line in page.lines if line.text.strip()]
    if not lines:
        return ""
    right = max(line.x1 for line in lines)
    left = min(line.x0 for line in lines)

    def level_of(line: Line) -> int | None:
        level = levels.get(round(line.size, 0))
        if level and page.ocr and (line.x1 >= right - 2 * body or _latin_share(line.text) > 0.3):
            return None
        return level

    pitch = [b.y0 - a.y0 for a, b in zip(lines, lines[1:]) if b.y0 > a.y0]
    step = statistics.median(pitch) if pitch else body * 1.5
    out: list[str] = []
    prev: Line | None = None
    prev_heading = False
    for line in lines:
        text = line.text.strip()
        level = level_of(line)
        if level:
            if prev_heading and prev is not None and line.y0 - prev.y1 < line.size:
                out[-1] = join_text(out[-1], text)  # a heading wrapped over two lines
            else:
                out.append("#" * level + " " + text)
            prev, prev_heading = line, True
            continue
        continues = (
            prev is not None
            and not prev_heading
            and prev.x1 >= right - 1.5 * max(prev.size, body)
            and line.x0 <= left + body
            and line.y0 - prev.y0 <= 1.6 * step
        )
        if continues:
            out[-1] = join_text(out[-1], text)
        else:
            out.append(text)
        prev, prev_heading = line, False
    return "\n".join(out)
