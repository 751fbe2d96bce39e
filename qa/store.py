"""Kept for the modules that import from here: the stores live in ``qa.stores``."""

from .stores import (
    CHUNKS,
    MANIFEST,
    VECTORS,
    DamagedIndex,
    IndexMismatch,
    KnowledgeBase,
    clean_leftovers,
    corpus_fingerprint,
    faiss_id,
    load,
    read_manifest,
    save,
)
from .stores.faiss import _recover

__all__ = [
    "CHUNKS",
    "MANIFEST",
    "VECTORS",
    "DamagedIndex",
    "IndexMismatch",
    "KnowledgeBase",
    "_recover",
    "clean_leftovers",
    "corpus_fingerprint",
    "faiss_id",
    "load",
    "read_manifest",
    "save",
]
