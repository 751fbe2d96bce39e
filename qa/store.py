"""The knowledge base on disk: a plain folder with a faiss file, chunks and a manifest.

    index/
      manifest.json   model, dimension, chunking parameters, corpus fingerprint, versions
      chunks.jsonl    one Chunk a line, in the order of the vectors
      vectors.faiss   IndexIDMap2(IndexFlatIP); ids are the chunks' content hashes

Saving builds a sibling temp folder and swaps it in with renames, so an interrupted
save leaves the previous index usable; other entries of the folder (the document store,
``documents/``) are carried over by hard link. No pickle anywhere.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexMismatch, storage_error
from .records import Chunk

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST, CHUNKS, VECTORS = "manifest.json", "chunks.jsonl", "vectors.faiss"


def faiss_id(chunk_id: str) -> int:
    """A chunk's content hash as a non-negative int64 faiss id."""
    return int(chunk_id[:15], 16)


@dataclass
class KnowledgeBase:
    """Chunks and their vectors; ``search`` is exact inner product on unit vectors."""

    dim: int
    manifest: dict = field(default_factory=dict)
    chunks: dict[int, Chunk] = field(default_factory=dict)  # faiss id -> chunk, in order
    index: Any = None  # a faiss IndexIDMap2 (faiss ships no type hints)

    def __post_init__(self):
        if self.index is None:
            import faiss

            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(c.source for c in self.chunks.values()))

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add chunks with their ``(n, dim)`` unit vectors; chunks already present are skipped."""
        seen, keep = set(self.chunks), []
        for i, chunk in enumerate(chunks):
            if faiss_id(chunk.id) not in seen:
                seen.add(faiss_id(chunk.id))
                keep.append(i)
        if not keep:
            return
        ids = np.array([faiss_id(chunks[i].id) for i in keep], dtype=np.int64)
        self.index.add_with_ids(np.ascontiguousarray(vectors[keep], dtype=np.float32), ids)
        for i, fid in zip(keep, ids):
            self.chunks[int(fid)] = chunks[i]

    def copy(self) -> KnowledgeBase:
        """An independent copy (manifest, chunks, vectors) to change aside."""
        import faiss

        manifest = json.loads(json.dumps(self.manifest))
        return KnowledgeBase(self.dim, manifest, dict(self.chunks), faiss.clone_index(self.index))

    def remove_source(self, source: str) -> int:
        """Remove every chunk (and vector) of one document; returns how many."""
        ids = [fid for fid, c in self.chunks.items() if c.source == source]
        if ids:
            self.index.remove_ids(np.array(ids, dtype=np.int64))
            for fid in ids:
                del self.chunks[fid]
        return len(ids)

    def vectors_of(self, chunks: list[Chunk]) -> np.ndarray:
        """Stored ``(n, dim)`` vectors of chunks that are in the index."""
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.index.reconstruct(faiss_id(c.id)) for c in chunks])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[Chunk]]]:
        """Top ``k`` chunks for each of the ``(m, dim)`` query vectors.

        Returns scores ``(m, k')`` and the chunks, with ``k' = min(k, len(self))``
        (faiss pads with -1 ids past the end; those are dropped).
        """
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(queries), 0), dtype=np.float32), [[] for _ in queries]
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        hits = [[self.chunks[int(i)] for i in row if i != -1] for row in ids]
        return scores[:, : min((len(h) for h in hits), default=0)], hits


def corpus_fingerprint(documents: dict[str, str]) -> str:
    """Hash of {source: content hash}: changes when any document is added, removed or edited."""
    blob = json.dumps(sorted(documents.items()), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def save(kb: KnowledgeBase, folder: str | Path) -> None:
    """Write ``kb`` to ``folder`` atomically (temp folder, then rename); a failed write
    raises ``StorageError`` naming the cause and leaves the previous index as it was."""
    folder = Path(folder)
    try:
        _save(kb, folder)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    except RuntimeError as exc:  # faiss reports a failed write as a RuntimeError
        raise storage_error(OSError(errno.EIO, str(exc)), folder) from exc


def _save(kb: KnowledgeBase, folder: Path) -> None:
    import faiss

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        with open(tmp / CHUNKS, "w", encoding="utf-8") as f:
            for chunk in kb.chunks.values():
                f.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        faiss.write_index(kb.index, str(tmp / VECTORS))
        manifest = kb.manifest | {"format": FORMAT, "dim": kb.dim, "count": len(kb)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        _carry_over(folder, tmp)
        old = folder.with_name(f".{folder.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _carry_over(folder: Path, tmp: Path) -> None:
    """Hard-link (or copy) into ``tmp`` what else ``folder`` holds (the document store,
    ``qa/docstore.py``), so the swap keeps it."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if (tmp / entry.name).exists():
            continue
        if entry.is_dir():
            shutil.copytree(entry, tmp / entry.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, tmp / entry.name)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of the index in ``folder``, or None when there is none."""
    folder = _recover(Path(folder))
    try:
        return json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def load(folder: str | Path) -> KnowledgeBase:
    """Read an index folder; raise ``IndexMismatch`` if it is missing parts or inconsistent."""
    import faiss

    folder = _recover(Path(folder))
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != FORMAT:
        raise IndexMismatch(f"no usable index in {folder}")
    try:
        index = faiss.read_index(str(folder / VECTORS))
        with open(folder / CHUNKS, encoding="utf-8") as f:
            chunks = [Chunk.from_json(json.loads(line)) for line in f if line.strip()]
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise IndexMismatch(f"damaged index in {folder}: {exc}") from exc
    if index.ntotal != len(chunks) or index.d != manifest["dim"]:
        raise IndexMismatch(f"damaged index in {folder}: vectors and chunks disagree")
    kb = KnowledgeBase(dim=index.d, manifest=manifest, index=index)
    kb.chunks = {faiss_id(c.id): c for c in chunks}
    return kb


LEFTOVER_AGE_S = 600.0  # a temp folder untouched this long belongs to no running save


def clean_leftovers(folder: str | Path, min_age_s: float = LEFTOVER_AGE_S) -> int:
    """Remove the temp folders interrupted saves of ``folder`` left behind; returns how many."""
    import time

    folder = Path(folder)
    removed = 0
    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        try:
            if tmp.is_dir() and time.time() - tmp.stat().st_mtime >= min_age_s:
                shutil.rmtree(tmp)
                removed += 1
        except OSError as exc:
            log.warning("cannot remove %s: %s", tmp, exc)
    if removed:
        log.info("removed %d leftover temp folders of %s", removed, folder)
    return removed


def _recover(folder: Path) -> Path:
    """Finish a swap that was interrupted between its two renames."""
    old = folder.with_name(f".{folder.name}.old")
    if not folder.exists() and old.exists():
        log.warning("restoring %s after an interrupted save", folder)
        os.replace(old, folder)
    return folder
