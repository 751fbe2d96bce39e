"""PDF with pypdfium2 (Apache-2.0/BSD: PDFium's text layer with positions, and page
rendering for OCR); pages without a text layer are read with OCR when it is available."""

from __future__ import annotations

import logging
import threading

from . import ocr
from .base import (
    CORRUPT,
    ENCRYPTED,
    IMAGE_ONLY,
    MARK,
    Extract,
    Location,
    ReadOptions,
    UnreadableDocument,
    page_label,
    parse_date,
)
from .layout import (
    OCR_HEADING_RATIO,
    Line,
    Page,
    body_size,
    drop_running,
    heading_levels,
    merge_segments,
    page_text,
)

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 5  # a page with fewer characters in its text layer is read by OCR
_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one document at a time


def _open(data: bytes):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnreadableDocument(ENCRYPTED) from None
        raise UnreadableDocument(CORRUPT.format(kind="PDF")) from None


def text_lines(page) -> list[Line]:
    """The text layer of a pypdfium2 page as lines (PDF points, origin top left)."""
    _, height = page.get_size()
    textpage = page.get_textpage()
    try:
        segments = []
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            text = textpage.get_text_bounded(left, bottom, right, top)
            text = text.replace("\r", "").replace("\n", "").replace("\ufffe", "")
            if text.strip():
                box = (left, height - top, right, height - bottom)
                segments.append(Line(text, *box, top - bottom))
        return merge_segments(segments)
    finally:
        textpage.close()


def read_pdf(data: bytes, options: ReadOptions) -> Extract:
    with _PDFIUM:
        return _read_pdf(data, options)


def _read_pdf(data: bytes, options: ReadOptions) -> Extract:
    pdf = _open(data)
    try:
        meta = pdf.get_metadata_dict()
        pages: list[Page] = []
        scanned: list[int] = []
        for n in range(1, len(pdf) + 1):
            page = pdf[n - 1]
            width, height = page.get_size()
            lines = text_lines(page)
            if sum(len(line.text.strip()) for line in lines) < MIN_TEXT_CHARS:
                scanned.append(n)
            pages.append(Page(n, width, height, tuple(lines)))
        notes: list[str] = []
        read_by_ocr: list[int] = []
        if scanned and options.ocr and ocr.available():
            settings = options.ocr_settings or ocr.DEFAULT
            found = ocr.ocr_pages(pdf, scanned, ocr.file_key(data), options.progress, settings)
            for n, lines in found.items():
                pages[n - 1] = Page(n, pages[n - 1].width, pages[n - 1].height, tuple(lines), True)
                read_by_ocr.append(n)
        elif scanned:
            if len(scanned) == len(pages):
                raise UnreadableDocument(IMAGE_ONLY)
            notes.append(f"{len(scanned)} 页只有图像、未识别文字（OCR 不可用）")
        count = len(pages)
    finally:
        pdf.close()
    pages = drop_running(pages)
    texts, scans = [p for p in pages if not p.ocr], [p for p in pages if p.ocr]
    body, ocr_body = body_size(texts), body_size(scans)  # OCR sizes are box heights
    levels = heading_levels(texts, body)
    ocr_levels = heading_levels(scans, ocr_body, OCR_HEADING_RATIO)
    parts, locations = [], []
    for page in pages:
        if page.ocr:
            text = page_text(page, ocr_body, ocr_levels)
        else:
            text = page_text(page, body, levels)
        parts.append(MARK + text)
        locations.append(Location(page.number, page_label(page.number)))
    return Extract(
        "\n".join(parts),
        tuple(locations),
        markdown=True,
        date=parse_date(_pdf_date(meta.get("CreationDate") or "")),
        pages=count,
        ocr_pages=len(read_by_ocr),
        notes=tuple(notes),
    )


def _pdf_date(value: str) -> str:
    """``D:20200106093000+08'00'`` → ``2020-01-06``."""
    digits = value[2:] if value.startswith("D:") else value
    if len(digits) >= 8 and digits[:8].isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return ""
