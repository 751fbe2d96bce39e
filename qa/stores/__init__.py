"""Stores of passages and vectors behind one small protocol (``base.Store``).

``faiss``: the embedded store, a plain folder (SQLite passages, faiss vectors, manifest).
``milvus``: one Milvus collection (standalone, cluster or Lite). ``select`` picks one.
"""

from .base import (
    DamagedIndex,
    IndexMismatch,
    Store,
    corpus_fingerprint,
    faiss_id,
    file_checksum,
    indexed_text,
    verified,
)
from .faiss import CHUNKS, FORMAT, MANIFEST, VECTORS, KnowledgeBase, clean_leftovers
from .select import URI_ENV, load, new_store, read_manifest, save, store_uri

__all__ = [
    "CHUNKS",
    "FORMAT",
    "MANIFEST",
    "URI_ENV",
    "VECTORS",
    "DamagedIndex",
    "IndexMismatch",
    "KnowledgeBase",
    "Store",
    "clean_leftovers",
    "corpus_fingerprint",
    "faiss_id",
    "file_checksum",
    "indexed_text",
    "load",
    "new_store",
    "read_manifest",
    "save",
    "store_uri",
    "verified",
]
