"""Stores of passages and vectors behind one small protocol (``base.Store``).

``faiss``: the embedded store, a plain folder (SQLite passages, faiss vectors, manifest).
"""

from .base import (
    DamagedIndex,
    IndexMismatch,
    Store,
    corpus_fingerprint,
    faiss_id,
    file_checksum,
    verified,
)
from .faiss import CHUNKS, FORMAT, MANIFEST, VECTORS, KnowledgeBase, load, read_manifest, save

__all__ = [
    "CHUNKS",
    "FORMAT",
    "MANIFEST",
    "VECTORS",
    "DamagedIndex",
    "IndexMismatch",
    "KnowledgeBase",
    "Store",
    "corpus_fingerprint",
    "faiss_id",
    "file_checksum",
    "load",
    "read_manifest",
    "save",
    "verified",
]
