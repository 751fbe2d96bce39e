"""Word (.docx) with python-docx: Heading styles give the heading path, tables become
one passage a row (``列名：值；列名：值。``), located as ``表 2 第 3 行``."""

from __future__ import annotations

import io
import re

from .base import CORRUPT, MARK, Extract, Location, ReadOptions, UnreadableDocument
from .table import rows_text

_HEADING_STYLE = re.compile(r"^(?:Heading|标题)\s*(\d)$", re.IGNORECASE)


def heading_depth(style_name: str) -> int | None:
    """Markdown depth of a paragraph style: Title 1, Heading 1 → 2, Heading 2 → 3, …"""
    if style_name.lower() in ("title", "标题"):
        return 1
    m = _HEADING_STYLE.match(style_name.strip())
    return min(int(m.group(1)) + 1, 6) if m else None


def read_docx(data: bytes, options: ReadOptions) -> Extract:
    import zipfile

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise UnreadableDocument(CORRUPT.format(kind="Word（.docx）")) from None
    lines: list[str] = []
    locations: list[Location] = []
    tables = 0
    after_table = False
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            style = block.style.name if block.style is not None else ""
            depth = heading_depth(style)
            line = "#" * depth + " " + text if depth else text
            if after_table:  # the table's row locations end here
                line, after_table = MARK + line, False
                locations.append(Location(None, "", split=True))
            lines.append(line)
        elif isinstance(block, Table):
            tables += 1
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            more, where = rows_text(rows, f"表 {tables} ")
            lines += more
            locations += where
            after_table = bool(where)
    props = document.core_properties
    stamp = props.created or props.modified
    return Extract(
        "\n".join(lines),
        tuple(locations),
        title=(props.title or "").strip(),
        date=stamp.date().isoformat() if stamp else "",
    )
