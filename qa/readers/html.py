"""Web pages (.html, .htm): the main text only, without navigation, banners and footers
(trafilatura), headings kept; the ``<title>`` is the document's title."""

from __future__ import annotations

import re

from .base import NO_TEXT, Extract, ReadOptions, UnreadableDocument
from .text import decode_text

_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _decode(data: bytes) -> str:
    m = _CHARSET.search(data[:4096])
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def read_html(data: bytes, options: ReadOptions) -> Extract:
    import trafilatura

    page = _decode(data)
    text = trafilatura.extract(
        page,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=True,
        with_metadata=False,
    )
    if not text or not text.strip():
        raise UnreadableDocument(NO_TEXT)
    meta = trafilatura.extract_metadata(page, extensive=False)  # no date guessed from text
    m = _TITLE.search(page)
    title = " ".join(m.group(1).split()) if m else ""
    return Extract(
        text,
        title=title or (meta.title if meta and meta.title else ""),
        date=(meta.date or "") if meta else "",
    )
