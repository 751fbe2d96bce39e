"""What every store of passages and vectors offers, and what they share."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from ..chunking import chunk_id
from ..errors import DamagedIndex, IndexMismatch
from ..records import Chunk

__all__ = ["DamagedIndex", "IndexMismatch", "Store"]

REBUILD_HINT = "请用 `python -m qa index` 从文档重建索引"


def damaged(folder: object, what: str) -> DamagedIndex:
    """The error for a damaged index in ``folder``: ``what`` says which part, in words."""
    return DamagedIndex(f"索引已损坏（{folder}）：{what}；{REBUILD_HINT}")


class Store(Protocol):
    """Passages (by int64 id, in insertion order) with unit vectors and dense search."""

    dim: int
    manifest: dict
    chunks: Mapping[int, Chunk]

    def __len__(self) -> int: ...

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None: ...

    def remove_source(self, source: str) -> int: ...

    def vectors_of(self, chunks: list[Chunk]) -> np.ndarray: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[Chunk]]]: ...


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and matched for a chunk: its heading path, then its text."""
    return f"{chunk.section_path}\n{chunk.text}" if chunk.section else chunk.text


def faiss_id(chunk_id: str) -> int:
    """A chunk's content hash as a non-negative int64 id."""
    return int(chunk_id[:15], 16)


def verified(chunk: Chunk) -> Chunk:
    """``chunk`` if its text (with source and heading path) still hashes to its id."""
    if chunk_id(chunk.source, chunk.section, chunk.text) != chunk.id:
        raise DamagedIndex(
            f"索引已损坏：{chunk.source} 的段落 {chunk.id} 在保存后被改动过，"
            f"不再提供它的内容；{REBUILD_HINT}"
        )
    return chunk


def corpus_fingerprint(documents: dict[str, str]) -> str:
    """Hash of {source: content hash}: changes when any document is added, removed or edited."""
    blob = json.dumps(sorted(documents.items()), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def file_checksum(path) -> str:
    """blake2b (128-bit) of a file's bytes, as hex: fast enough to check every load."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
