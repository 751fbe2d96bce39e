"""Kept for the modules that import from here: the stores live in ``qa.stores``."""

from .stores import (
    CHUNKS,
    MANIFEST,
    VECTORS,
    DamagedIndex,
    IndexMismatch,
    KnowledgeBase,
    corpus_fingerprint,
    faiss_id,
    load,
    read_manifest,
    save,
)

__all__ = [
    "CHUNKS",
    "MANIFEST",
    "VECTORS",
    "DamagedIndex",
    "IndexMismatch",
    "KnowledgeBase",
    "corpus_fingerprint",
    "faiss_id",
    "load",
    "read_manifest",
    "save",
]
