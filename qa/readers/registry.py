"""The one table of readers (suffix → reader), shared by the CLI and the app, and the
functions that read a file or a folder into repaired ``Document``s with locations."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from ..cleaning import MARK, repair_text, title_of
from ..records import Document, Mark
from . import docx, html, pdf, table, text
from .base import (
    EMPTY,
    TOO_LARGE,
    UNSUPPORTED,
    Extract,
    Location,
    Reader,
    ReadOptions,
    UnreadableDocument,
    date_in_name,
    date_in_text,
    suffix_of,
)

log = logging.getLogger(__name__)

READERS: dict[str, Reader] = {
    ".txt": text.read_text,
    ".md": text.read_markdown,
    ".pdf": pdf.read_pdf,
    ".docx": docx.read_docx,
    ".html": html.read_html,
    ".htm": html.read_html,
    ".xlsx": table.read_xlsx,
    ".csv": table.read_csv,
}
MAX_FILE_MB = float(os.environ.get("QA_MAX_FILE_MB", "50"))  # larger files are refused


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def strip_marks(raw: str, locations: tuple[Location, ...]) -> tuple[str, tuple[Mark, ...]]:
    """Remove the ``MARK`` characters of ``raw``; the i-th becomes a ``Mark`` at its
    offset in the returned text, carrying ``locations[i]``."""
    parts = raw.split(MARK)
    marks, pos = [], len(parts[0])
    for i, part in enumerate(parts[1:]):
        if i < len(locations):
            loc = locations[i]
            marks.append(Mark(pos, loc.page, loc.label, loc.split))
        pos += len(part)
    return "".join(parts), tuple(marks)


def _file_date(path: Path) -> str:
    stamp = path.stat().st_mtime
    return datetime.fromtimestamp(stamp, tz=timezone.utc).date().isoformat()


def read_document(
    path: str | Path, name: str | None = None, options: ReadOptions = ReadOptions()
) -> Document:
    """Read one file into a repaired ``Document``; ``UnreadableDocument`` says (in
    Chinese) why it cannot be read. ``name`` is the document's key (its relative path)."""
    path = Path(path)
    name = name or path.name
    suffix = suffix_of(name)
    reader = READERS.get(suffix)
    if reader is None:
        supported = " ".join(supported_suffixes())
        raise UnreadableDocument(UNSUPPORTED.format(suffix=suffix or "（无）", supported=supported))
    size = path.stat().st_size
    if size > MAX_FILE_MB * 1024 * 1024:
        raise UnreadableDocument(TOO_LARGE.format(size=size / 1024 / 1024, limit=MAX_FILE_MB))
    extract: Extract = reader(path.read_bytes(), options)
    raw = repair_text(extract.text, markdown=extract.markdown)
    clean, marks = strip_marks(raw, extract.locations)
    if not clean.strip():
        raise UnreadableDocument(EMPTY)
    for note in extract.notes:
        log.warning("%s: %s", name, note)
    return Document(
        source=name,
        title=extract.title or title_of(clean, fallback=Path(name).stem),
        text=clean,
        marks=marks,
        date=date_in_text(clean) or extract.date or date_in_name(name) or _file_date(path),
        pages=extract.pages,
        ocr_pages=extract.ocr_pages,
        notes=extract.notes,
    )


def read_folder(
    folder: str | Path,
    on_error: Callable[[Path, str], None] | None = None,
    options: ReadOptions = ReadOptions(),
) -> list[Document]:
    """Read every supported file below ``folder`` (sorted by path); skip and report the
    rest. Documents are keyed by their path relative to ``folder``."""
    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    return read_files(paths, on_error, options, root=folder)


def read_files(
    paths: Iterable[Path],
    on_error: Callable[[Path, str], None] | None = None,
    options: ReadOptions = ReadOptions(),
    root: Path | None = None,
) -> list[Document]:
    docs = []
    for path in paths:
        if path.name.startswith("."):
            continue
        name = path.relative_to(root).as_posix() if root else path.name
        try:
            docs.append(read_document(path, name, options))
        except (UnreadableDocument, OSError) as exc:
            log.warning("skipped %s: %s", name, exc)
            if on_error:
                on_error(path, str(exc))
    return docs
