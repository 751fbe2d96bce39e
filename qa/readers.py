"""Read documents from disk: encoding detection and one reader per file type.

Readers are pluggable: ``READERS`` maps a suffix to a function ``(bytes) -> str``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from .cleaning import repair_text, title_of
from .errors import UnreadableDocument
from .records import Document

log = logging.getLogger(__name__)


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM) or GB18030, else raise.

    Binary data (NUL bytes) and text no Chinese-capable encoding can decode are refused.
    """
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("looks like a binary file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _plausible(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or not _plausible(str(best)):
        raise UnreadableDocument("cannot detect the text encoding")
    return str(best)


def _plausible(text: str) -> bool:
    """Few control characters and replacement marks: real text, not mis-decoded bytes."""
    bad = sum(1 for c in text if (ord(c) < 32 and c not in "\r\n\t\f") or c == "\ufffd")
    return bad <= max(2, len(text) // 200)


def read_plain(data: bytes) -> str:
    return decode_text(data)


READERS: dict[str, Callable[[bytes], str]] = {".txt": read_plain, ".md": read_plain}


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def read_document(path: str | Path, name: str | None = None) -> Document:
    """Read one file into a repaired ``Document``; raise ``UnreadableDocument`` if impossible."""
    path = Path(path)
    name = name or path.name
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocument(f"unsupported file type {path.suffix or '(none)'}")
    raw = reader(path.read_bytes())
    text = repair_text(raw, markdown=path.suffix.lower() == ".md")
    if not text.strip():
        raise UnreadableDocument("the file is empty")
    return Document(source=name, title=title_of(text, fallback=Path(name).stem), text=text)


def read_folder(
    folder: str | Path, on_error: Callable[[Path, str], None] | None = None
) -> list[Document]:
    """Read every supported file below ``folder`` (sorted by name); skip and report the rest."""
    return read_files(sorted(p for p in Path(folder).rglob("*") if p.is_file()), on_error)


def read_files(
    paths: Iterable[Path], on_error: Callable[[Path, str], None] | None = None
) -> list[Document]:
    docs = []
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            docs.append(read_document(path))
        except (UnreadableDocument, OSError) as exc:
            log.warning("skipped %s: %s", path.name, exc)
            if on_error:
                on_error(path, str(exc))
    return docs
