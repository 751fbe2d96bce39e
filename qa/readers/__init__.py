"""Readers: one module per file format behind one protocol, and one table of them."""

from .base import Extract, Location, Reader, ReadOptions, UnreadableDocument, summary
from .registry import READERS, read_document, read_files, read_folder, supported_suffixes
from .text import decode, decode_text

__all__ = [
    "READERS",
    "Extract",
    "Location",
    "ReadOptions",
    "Reader",
    "UnreadableDocument",
    "decode",
    "decode_text",
    "read_document",
    "read_files",
    "read_folder",
    "summary",
    "supported_suffixes",
]
