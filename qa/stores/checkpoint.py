"""Embedding that survives an interruption: vectors are appended to a checkpoint file batch
by batch, and a rerun embeds only the passages the checkpoint does not hold yet.

The checkpoint is a SQLite file (WAL) of ``id -> float32 vector bytes`` beside the index
folder; ``build_index`` removes it once the index is saved. Progress (with an ETA) goes to
the log and, with ``progress=True``, to a tqdm bar.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BATCH = 256  # passages embedded between two checkpoint writes


def checkpoint_path(index_dir: str | Path) -> Path:
    index_dir = Path(index_dir)
    return index_dir.with_name(f".{index_dir.name}.embedded.sqlite")


def _open(path: Path, dim: int) -> sqlite3.Connection:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS meta (dim INTEGER NOT NULL, model TEXT NOT NULL)")
    con.execute("CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, v BLOB NOT NULL)")
    return con


def embed_passages(
    encoder,
    ids: Sequence[str],
    texts: Sequence[str],
    path: str | Path | None,
    progress: bool = False,
    batch: int | None = None,
) -> np.ndarray:
    """``(n, dim)`` passage vectors of ``texts``; with a checkpoint ``path``, vectors of
    ``ids`` already there are reused and new ones are saved after every ``batch``."""
    if path is None:
        return encoder.encode_passages(list(texts), progress)
    path, batch = Path(path), batch or BATCH
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, encoder.dim)
    try:
        meta = con.execute("SELECT dim, model FROM meta").fetchone()
        if meta is None:
            con.execute("INSERT INTO meta VALUES (?, ?)", (encoder.dim, encoder.name))
            con.commit()
        elif tuple(meta) != (encoder.dim, encoder.name):  # another model: start over
            con.execute("DELETE FROM vectors")
            con.execute("UPDATE meta SET dim = ?, model = ?", (encoder.dim, encoder.name))
            con.commit()
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        done = _known(con, ids, encoder.dim)
        for i, cid in enumerate(ids):
            if cid in done:
                out[i] = done[cid]
        todo = [i for i, cid in enumerate(ids) if cid not in done]
        if done:
            log.info("resuming: %d of %d passages already embedded", len(ids) - len(todo), len(ids))
        bar = None
        if progress and todo:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc="embedding", unit="passage", disable=None)  # tty only
        start = time.perf_counter()
        for b in range(0, len(todo), batch):
            rows = todo[b : b + batch]
            vectors = encoder.encode_passages([texts[i] for i in rows])
            out[rows] = vectors
            con.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(ids[i], v.astype(np.float32).tobytes()) for i, v in zip(rows, vectors)],
            )
            con.commit()
            finished = b + len(rows)
            if bar is not None:
                bar.update(len(rows))
            rate = finished / max(time.perf_counter() - start, 1e-9)
            log.info(
                "embedded %d/%d passages, %.1f/s, about %.0fs left",
                finished,
                len(todo),
                rate,
                (len(todo) - finished) / rate,
            )
        if bar is not None:
            bar.close()
        return out
    finally:
        con.close()


def _known(con: sqlite3.Connection, ids: Sequence[str], dim: int) -> dict[str, np.ndarray]:
    wanted, found = list(dict.fromkeys(ids)), {}
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        marks = ",".join("?" * len(part))
        for cid, blob in con.execute(f"SELECT id, v FROM vectors WHERE id IN ({marks})", part):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (dim,):
                found[cid] = vector
    return found


def discard(path: str | Path) -> None:
    """Remove a checkpoint (and its WAL files) once the index is saved."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
