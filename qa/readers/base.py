"""What every reader returns, the locations it marks, and the messages for bad files.

A reader turns a file's bytes into an ``Extract``: raw text (one paragraph a line,
``#`` headings where the format knows them) with a ``MARK`` character wherever a new
location starts (a page, a table row), and one ``Location`` per mark, in order.
``qa.readers.registry.read_document`` repairs the text and turns the marks into
character offsets (``Document.marks``), which chunking maps to pages and rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .ocr import OcrSettings

from ..cleaning import MARK as MARK  # re-exported: readers put it where a location starts
from ..errors import UnreadableDocument as UnreadableDocument  # re-exported: one class

# User-facing reasons (the caller names the file).
BINARY = "看起来是二进制文件，不是文本"
UNDECODABLE = "无法识别文字编码（试过 UTF-8、UTF-16、GB18030、Big5），内容不像中文或英文文本"
EMPTY = "文件是空的，没有可读的文字"
UNSUPPORTED = "不支持的文件类型 {suffix}（支持：{supported}）"
TOO_LARGE = "文件太大（{size:.1f} MB，上限 {limit} MB）"
ENCRYPTED = "PDF 已加密（需要密码），无法读取"
CORRUPT = "文件已损坏或不是有效的 {kind} 文件"
IMAGE_ONLY = "PDF 只有扫描图像、没有文字层，且文字识别（OCR）不可用"
NO_TEXT = "没有找到可读的文字"


@dataclass(frozen=True)
class Location:
    """Where the text after a ``MARK`` comes from. ``split``: chunks never span it
    (table rows are passages of their own; pages are not, sentences flow across them)."""

    page: int | None = None  # 1-based
    label: str = ""  # display string: "第 6 页", "Sheet1 第 12 行"
    split: bool = False


@dataclass(frozen=True)
class Extract:
    """A reader's output, before repair."""

    text: str
    locations: tuple[Location, ...] = ()
    markdown: bool = True  # "#" lines are headings (else plain-text heading rules apply)
    title: str = ""  # from the format's metadata (<title>, PDF Title), "" if none
    date: str = ""  # from the format's metadata (ISO), "" if none
    pages: int = 0  # pages in the file (0: a format without pages)
    ocr_pages: int = 0  # pages read by OCR
    notes: tuple[str, ...] = field(default=())  # warnings for the user (pages skipped...)


@dataclass(frozen=True)
class ReadOptions:
    progress: bool = False  # show a progress bar for slow steps (OCR)
    ocr: bool = True  # read image-only pages with OCR when it is installed
    ocr_settings: OcrSettings | None = None  # None: the defaults in ``qa.readers.ocr``


class Reader(Protocol):
    def __call__(self, data: bytes, options: ReadOptions) -> Extract: ...


def page_label(page: int) -> str:
    return f"第 {page} 页"


def pages_label(page: int, page_end: int | None) -> str:
    if page_end is None or page_end == page:
        return page_label(page)
    return f"第 {page}–{page_end} 页"


_DATE_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?")
_DATE_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?")
_DATE_LINE = re.compile(r"^[（(\[【]?\s*(.{6,16}?)\s*[）)\]】]?$")


def iso_date(year: str, month: str, day: str | None) -> str:
    y, m = int(year), int(month)
    if not (1900 <= y <= 2100 and 1 <= m <= 12):
        return ""
    if day is None:
        return f"{y:04d}-{m:02d}"
    d = int(day)
    return f"{y:04d}-{m:02d}-{d:02d}" if 1 <= d <= 31 else f"{y:04d}-{m:02d}"


def parse_date(text: str) -> str:
    """The first date in ``text`` as ISO (``2020-01-06`` or ``2018-10``), else ""."""
    for pattern in (_DATE_CN, _DATE_ISO):
        m = pattern.search(text)
        if m:
            return iso_date(*m.groups())
    return ""


def date_in_text(text: str, head: int = 12, tail: int = 6) -> str:
    """The document's date from its text: a line that is only a date (``2018 年 10 月``,
    ``（2020年1月6日）``) near the top or at the end, as documents print it; else ""."""
    lines = [line.lstrip("#").strip() for line in text.split("\n") if line.strip()]
    for line in lines[:head] + lines[-tail:][::-1]:
        m = _DATE_LINE.match(line)
        if m and (_DATE_CN.fullmatch(m.group(1)) or _DATE_ISO.fullmatch(m.group(1))):
            return parse_date(m.group(1))
    return ""


_DATE_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d\d)(0[1-9]|1[0-2])([0-2]\d|3[01])(?!\d)")
_YEAR_ALONE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def date_in_name(name: str) -> str:
    """A date the file name states (``report-2020-01-06.pdf``, ``20200106``, ``…-2018.md``:
    ``2018``), else "" — a better guess than the file's time, which a copy or clone resets."""
    stem = name.rsplit("/", 1)[-1]
    found = parse_date(stem)
    if found:
        return found
    m = _DATE_COMPACT.search(stem)
    if m:
        return iso_date(*m.groups())
    m = _YEAR_ALONE.search(stem)
    return m.group(1) if m else ""


def summary(pages: int, ocr_pages: int, passages: int) -> str:
    """What was read from one file, for the CLI and the app: ``12 页（OCR 3 页），45 个段落``."""
    parts = []
    if pages:
        parts.append(f"{pages} 页" + (f"（OCR {ocr_pages} 页）" if ocr_pages else ""))
    parts.append(f"{passages} 个段落")
    return "，".join(parts)


def suffix_of(path: str | Path) -> str:
    return Path(path).suffix.lower()
