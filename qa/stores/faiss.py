"""The embedded store: a plain folder with a manifest, passages in SQLite, vectors in faiss.

    index/
      manifest.json   model, dimension, chunking, corpus fingerprint, versions, and the
                      blake2b checksum of every file below (checked at each load)
      chunks.sqlite   one row per passage, in the order they were added; read by id on demand
      vectors.faiss   IndexIDMap2 over IndexFlatIP (exact) or, from ``LARGE_THRESHOLD``
                      passages on, IndexIVFFlat (an index saved as HNSW by an earlier
                      version still loads); ids are the passages' content hashes
      lexical/        the BM25 index (bm25s files, loaded memory-mapped), when one was built

A passage read from disk is checked against its content-hash id, so altered text is never
served (``DamagedIndex``). Saving builds a sibling temp folder and swaps it in with renames,
so an interrupted save leaves the previous index usable; other entries of the folder (the
document store, ``documents/``) are carried over by hard link. A failed write raises
``StorageError`` naming the cause. No pickle anywhere.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import storage_error
from ..lexical import BM25Index
from ..records import Chunk
from .base import IndexMismatch, damaged, faiss_id, file_checksum, verified

log = logging.getLogger(__name__)

FORMAT = 2
MANIFEST, CHUNKS, VECTORS, LEXICAL = "manifest.json", "chunks.sqlite", "vectors.faiss", "lexical"
OWN = {MANIFEST, CHUNKS, VECTORS, LEXICAL, "chunks.jsonl"}  # a save writes these (or drops them)
LARGE_THRESHOLD = 200_000  # passages; from here on an approximate index (benchmarks/scale.py)
IVF_LISTS, IVF_PROBE = 1024, 64  # inverted lists, lists searched per query (scale.py)
IVF_TRAIN = 65_536  # vectors sampled to train the lists (64 a list)
FEW_QUERIES = 8  # searched on one thread: OpenMP's fork/join costs more than it saves on
# two busy cores (flat 100k, one query: 31 ms on 1 thread vs 100 ms on 2, with other jobs)
CHECK_THREADS = 2  # files checksummed at once at load (3.5 GB at 1M passages: ~6 s on one core)
RETYPE_BATCH = 65_536  # vectors copied at a time when an index changes type
_COLUMNS = "fid, id, source, title, section, start, end_, text, page, page_end, location, date"
_MARKS = ",".join("?" * 12)


def new_index(dim: int, train: np.ndarray | None = None):
    """An empty id-mapped faiss index over inner product: exact, or with ``train``
    (sample vectors) an IVF whose lists are learned from them."""
    import faiss

    if train is None:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    inner = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dim), dim, min(IVF_LISTS, len(train)), faiss.METRIC_INNER_PRODUCT
    )
    inner.cp.seed = 0
    inner.train(np.ascontiguousarray(train, dtype=np.float32))
    inner.nprobe = IVF_PROBE
    inner.make_direct_map()  # so a vector can be read back by position (``vectors_of``)
    return faiss.IndexIDMap2(inner)


def kind(index) -> str:
    """ "flat" (exact), "ivf" or "hnsw" (approximate)."""
    import faiss

    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    return "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"


def is_exact(index) -> bool:
    return kind(index) == "flat"


def retyped(index, exact: bool):
    """``index`` with the same ids and vectors, exact or approximate (itself if already so).
    An approximate one is an IVF trained on a fixed sample of the vectors."""
    import faiss

    if is_exact(index) == exact:
        return index
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    train = None
    if not exact:
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(index.ntotal, min(IVF_TRAIN, index.ntotal), replace=False))
        train = index.index.reconstruct_batch(sample.astype(np.int64))
    out = new_index(index.d, train)
    for at in range(0, index.ntotal, RETYPE_BATCH):  # a batch at a time: no second full copy
        n = min(RETYPE_BATCH, index.ntotal - at)
        out.add_with_ids(index.index.reconstruct_n(at, n), ids[at : at + n])
    return out


def _row(chunk: Chunk) -> tuple:
    section = json.dumps(list(chunk.section), ensure_ascii=False)
    return (
        faiss_id(chunk.id),
        chunk.id,
        chunk.source,
        chunk.title,
        section,
        chunk.start,
        chunk.end,
        chunk.text,
        chunk.page,
        chunk.page_end,
        chunk.location,
        chunk.date,
    )


def _chunk(row: tuple) -> Chunk:
    _, cid, source, title, section, start, end, text, page, page_end, location, date = row
    section = tuple(json.loads(section))
    return verified(
        Chunk(cid, source, title, section, start, end, text, page, page_end, location, date)
    )


def write_chunks(path: Path, chunks: Iterable[Chunk], batch: int = 10_000) -> int:
    """Write passages to a new SQLite file at ``path``, in order; returns how many."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(
            "CREATE TABLE chunks (pos INTEGER PRIMARY KEY, fid INTEGER NOT NULL UNIQUE, "
            "id TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL, section TEXT NOT NULL, "
            "start INTEGER NOT NULL, end_ INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, "
            "page_end INTEGER, location TEXT NOT NULL, date TEXT NOT NULL)"
        )
        rows, n = [], 0
        for chunk in chunks:
            rows.append(_row(chunk))
            if len(rows) >= batch:
                con.executemany(f"INSERT INTO chunks ({_COLUMNS}) VALUES ({_MARKS})", rows)
                n, rows = n + len(rows), []
        con.executemany(f"INSERT INTO chunks ({_COLUMNS}) VALUES ({_MARKS})", rows)
        con.execute("CREATE INDEX chunks_source ON chunks (source, pos)")
        con.commit()
        con.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        con.close()
    return n + len(rows)


class ChunkTable:
    """Read-only passages in a SQLite file, fetched by id and verified on every read."""

    def __init__(self, path: Path):
        uri = f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1"
        self._con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self.count: int = (self._one("SELECT COUNT(*) FROM chunks") or (0,))[0]

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        with self._lock:
            return self._con.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def get(self, fid: int) -> Chunk | None:
        row = self._one(f"SELECT {_COLUMNS} FROM chunks WHERE fid = ?", (fid,))
        return _chunk(row) if row else None

    def many(self, fids: list[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        for i in range(0, len(fids), 500):
            part = fids[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self._all(f"SELECT {_COLUMNS} FROM chunks WHERE fid IN ({marks})", part):
                out[row[0]] = _chunk(row)
        return out

    def fids(self) -> Iterator[int]:
        last = 0
        while rows := self._all(
            "SELECT pos, fid FROM chunks WHERE pos > ? ORDER BY pos LIMIT 10000", (last,)
        ):
            yield from (fid for _, fid in rows)
            last = rows[-1][0]

    def rows(self) -> Iterator[Chunk]:
        last = 0
        while rows := self._all(
            f"SELECT pos, {_COLUMNS} FROM chunks WHERE pos > ? ORDER BY pos LIMIT 10000", (last,)
        ):
            yield from (_chunk(row[1:]) for row in rows)
            last = rows[-1][0]

    def fids_of(self, source: str) -> list[int]:
        rows = self._all("SELECT fid FROM chunks WHERE source = ? ORDER BY pos", (source,))
        return [r[0] for r in rows]

    def sources(self) -> list[str]:
        return [
            r[0] for r in self._all("SELECT source FROM chunks GROUP BY source ORDER BY MIN(pos)")
        ]


class ChunkMap(MutableMapping):
    """id -> passage, in insertion order: a read-only ``ChunkTable`` plus the changes made
    since it was loaded (added passages in memory, removed ids), so a million passages on
    disk are never all held as objects."""

    def __init__(self, table: ChunkTable | None = None):
        self.table = table
        self.added: dict[int, Chunk] = {}
        self.removed: set[int] = set()

    def _in_table(self, fid: int) -> bool:
        return (
            self.table is not None
            and fid not in self.removed
            and bool(self.table._one("SELECT 1 FROM chunks WHERE fid = ?", (fid,)))
        )

    def __getitem__(self, fid: int) -> Chunk:
        if fid in self.added:
            return self.added[fid]
        chunk = None if self.table is None or fid in self.removed else self.table.get(fid)
        if chunk is None:
            raise KeyError(fid)
        return chunk

    def __contains__(self, fid: object) -> bool:
        return fid in self.added or (isinstance(fid, int) and self._in_table(fid))

    def __setitem__(self, fid: int, chunk: Chunk) -> None:
        if fid in self:
            del self[fid]
        self.added[fid] = chunk

    def __delitem__(self, fid: int) -> None:
        if fid in self.added:
            del self.added[fid]
        elif self._in_table(fid):
            self.removed.add(fid)
        else:
            raise KeyError(fid)

    def __len__(self) -> int:
        base = self.table.count - len(self.removed) if self.table else 0
        return base + len(self.added)

    def __iter__(self) -> Iterator[int]:
        if self.table:
            yield from (f for f in self.table.fids() if f not in self.removed)
        yield from list(self.added)

    def values(self) -> Iterator[Chunk]:  # type: ignore[override]
        """Every passage in order, streamed (not a list)."""
        if self.table:
            yield from (c for c in self.table.rows() if faiss_id(c.id) not in self.removed)
        yield from list(self.added.values())

    def items(self) -> Iterator[tuple[int, Chunk]]:  # type: ignore[override]
        return ((faiss_id(c.id), c) for c in self.values())

    def copy(self) -> ChunkMap:
        """An independent map over the same (read-only) table."""
        out = ChunkMap(self.table)
        out.added, out.removed = dict(self.added), set(self.removed)
        return out

    def many(self, fids: list[int]) -> list[Chunk]:
        """The passages of ``fids`` (all present), in that order, in one query."""
        wanted = [f for f in fids if f not in self.added and f not in self.removed]
        found = self.table.many(wanted) if self.table and wanted else {}
        found.update({f: self.added[f] for f in fids if f in self.added})
        missing = [f for f in fids if f not in found]
        if missing:
            raise KeyError(missing[0])
        return [found[f] for f in fids]

    def fids_of(self, source: str) -> list[int]:
        base = self.table.fids_of(source) if self.table else []
        added = [f for f, c in self.added.items() if c.source == source]
        return [f for f in base if f not in self.removed] + added

    def sources(self) -> list[str]:
        names = self.table.sources() if self.table else []
        if self.removed:  # a source may have lost all its passages
            names = [
                s
                for s in names
                if self.table and any(f not in self.removed for f in self.table.fids_of(s))
            ]
        return list(dict.fromkeys([*names, *(c.source for c in self.added.values())]))


@dataclass
class KnowledgeBase:
    """Passages and their vectors; ``search`` is inner product on unit vectors (exact while
    the index is small, IVF from ``LARGE_THRESHOLD`` on, once saved). ``lexical`` is the BM25
    index over the same passages in the same order, when one was built (None after a change).

    Invariant: the faiss index holds the passages' ids in the order of ``chunks``."""

    dim: int
    manifest: dict = field(default_factory=dict)
    chunks: ChunkMap = field(default_factory=ChunkMap)  # id -> passage, in order
    index: Any = None  # a faiss IndexIDMap2 (faiss ships no type hints)
    lexical: BM25Index | None = None

    def __post_init__(self):
        if self.index is None:
            self.index = new_index(self.dim)

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def sources(self) -> list[str]:
        return self.chunks.sources()

    def copy(self) -> KnowledgeBase:
        """An independent copy (manifest, passages, vectors) to change aside; the passages
        on disk are shared (read-only), the BM25 index too (it is replaced, never changed)."""
        import faiss

        manifest = json.loads(json.dumps(self.manifest))
        index = faiss.clone_index(self.index)
        return KnowledgeBase(self.dim, manifest, self.chunks.copy(), index, self.lexical)

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Add chunks with their ``(n, dim)`` unit vectors; chunks already present are skipped."""
        seen, keep = set(), []
        for i, chunk in enumerate(chunks):
            fid = faiss_id(chunk.id)
            if fid not in seen and fid not in self.chunks:
                seen.add(fid)
                keep.append(i)
        if not keep:
            return
        self.lexical = None
        ids = np.array([faiss_id(chunks[i].id) for i in keep], dtype=np.int64)
        self.index.add_with_ids(np.ascontiguousarray(vectors[keep], dtype=np.float32), ids)
        for i, fid in zip(keep, ids):
            self.chunks[int(fid)] = chunks[i]

    def remove_source(self, source: str) -> int:
        """Remove every chunk (and vector) of one document; returns how many."""
        ids = self.chunks.fids_of(source)
        if ids:
            self.lexical = None
            if not is_exact(self.index):  # removing from IVF/HNSW: exact until the next save
                self.index = retyped(self.index, exact=True)
            self.index.remove_ids(np.array(ids, dtype=np.int64))
            for fid in ids:
                del self.chunks[fid]
        return len(ids)

    def ids(self) -> np.ndarray:
        """``(n,)`` int64 ids of the passages, in order (read from faiss: no passage reads)."""
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

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
        scores, rows = self.search_ids(queries, k)
        found = dict(zip(flat := [i for row in rows for i in row], self.chunks.many(flat)))
        return scores, [[found[i] for i in row] for row in rows]

    def search_ids(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[int]]]:
        """``search`` giving the passages' ids instead of reading the passages."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(queries), 0), dtype=np.float32), [[] for _ in queries]
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        threads = faiss.omp_get_max_threads()
        if len(queries) <= FEW_QUERIES:
            faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(threads)
        rows = [[int(i) for i in row if i != -1] for row in ids]
        return scores[:, : min((len(r) for r in rows), default=0)], rows


def save(kb: KnowledgeBase, folder: str | Path) -> None:
    """Write ``kb`` to ``folder`` atomically (temp folder, then rename); a failed write
    raises ``StorageError`` naming the cause and leaves the previous index as it was."""
    folder = Path(folder)
    try:
        _save(kb, folder)
    except OSError as exc:
        raise storage_error(exc, folder) from exc
    except (RuntimeError, sqlite3.OperationalError) as exc:  # faiss: a failed write
        raise storage_error(OSError(errno.EIO, str(exc)), folder) from exc


def _save(kb: KnowledgeBase, folder: Path) -> None:
    import faiss

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        count = write_chunks(tmp / CHUNKS, kb.chunks.values())
        kb.index = retyped(kb.index, exact=count < LARGE_THRESHOLD)
        faiss.write_index(kb.index, str(tmp / VECTORS))
        names = [CHUNKS, VECTORS]
        lexical = kb.lexical is not None and kb.lexical.n_docs == count > 0
        if kb.lexical is not None and lexical:
            kb.lexical.save(tmp / LEXICAL)
            names += sorted(f"{LEXICAL}/{p.name}" for p in (tmp / LEXICAL).iterdir())
        checksums = {name: file_checksum(tmp / name) for name in names}
        manifest = kb.manifest | {
            "format": FORMAT,
            "dim": kb.dim,
            "count": count,
            "checksums": checksums,
            "faiss": kind(kb.index),
            "lexical": lexical,
            "lexical_key": kb.lexical.key if lexical and kb.lexical else "",
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        carry_over(folder, tmp)
        swap_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kb.manifest = manifest  # and read passages from the new file: the changes are in it
    kb.chunks = ChunkMap(ChunkTable(folder / CHUNKS))


def carry_over(folder: Path, tmp: Path) -> None:
    """Hard-link (or copy) into ``tmp`` what else ``folder`` holds (the document store,
    ``qa/docstore.py``), so the swap keeps it."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in OWN or (tmp / entry.name).exists():
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


def swap_in(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by the complete folder ``tmp`` with two renames (see ``_recover``)."""
    old = folder.with_name(f".{folder.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of the index in ``folder``, or None when there is none."""
    folder = _recover(Path(folder))
    try:
        return json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def load(folder: str | Path) -> KnowledgeBase:
    """Read an index folder; raise ``IndexMismatch`` if it is missing parts or is of another
    format, ``DamagedIndex`` if a file's checksum or the counts disagree with the manifest."""
    import faiss

    folder = _recover(Path(folder))
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != FORMAT:
        raise IndexMismatch(f"{folder} 中没有可用的索引（没有清单或格式不符）")
    try:
        names = list(manifest["checksums"])
        with ThreadPoolExecutor(CHECK_THREADS) as pool:  # hashlib lets go of the GIL
            found = dict(zip(names, pool.map(lambda n: file_checksum(folder / n), names)))
        for name, expected in manifest["checksums"].items():
            if found[name] != expected:
                raise damaged(folder, f"{name} 在保存后被改动（校验和不符）")
        index = faiss.read_index(str(folder / VECTORS))
        table = ChunkTable(folder / CHUNKS)
        lexical = (
            BM25Index.load(folder / LEXICAL, key=manifest.get("lexical_key", ""))
            if manifest.get("lexical")
            else None
        )
    except (OSError, RuntimeError, ValueError, TypeError, KeyError, sqlite3.Error) as exc:
        if isinstance(exc, IndexMismatch):
            raise
        raise damaged(folder, f"无法读取（{exc}）") from exc
    if index.ntotal != table.count or index.d != manifest["dim"]:
        raise damaged(folder, "向量与段落数目不一致")
    if lexical is not None and lexical.n_docs != table.count:
        raise damaged(folder, "词法索引与段落数目不一致")
    return KnowledgeBase(index.d, manifest, ChunkMap(table), index, lexical)


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
