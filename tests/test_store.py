"""The on-disk knowledge base: round trip, exact search, removal, atomic save, recovery,
integrity (checksums at load, content hashes on every read)."""

from __future__ import annotations

import json
import os
import sqlite3

import faiss
import numpy as np
import pytest

from qa import Chunk, IndexMismatch, KnowledgeBase
from qa.chunking import chunk_id
from qa.errors import StorageError
from qa.stores import (
    CHUNKS,
    MANIFEST,
    VECTORS,
    DamagedIndex,
    faiss_id,
    load,
    read_manifest,
    save,
)
from qa.stores.faiss import _recover, is_exact

DIM = 16


def make_chunks(n: int, sources=("a.md", "b.txt", "c.txt"), salt: str = "") -> list[Chunk]:
    chunks = []
    for i in range(n):
        text = f"第{i}段{salt}：慈溪的内容。"
        source = sources[i % len(sources)]
        cid = chunk_id(source, ("一、概况",), text)
        chunks.append(Chunk(cid, source, "标题", ("一、概况",), i, i + 1, text))
    return chunks


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, topics: np.ndarray, n: int) -> np.ndarray:
    v = topics[rng.integers(len(topics), size=n)] + 0.15 * unit(rng, n, topics.shape[1])
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, chunks: list[Chunk], queries: np.ndarray, k: int):
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ids = [[chunks[j].id for j in row] for row in order]
    return np.take_along_axis(scores, order, axis=1), ids


@pytest.fixture
def populated():
    rng = np.random.default_rng(42)
    chunks = make_chunks(30)
    vectors = unit(rng, 30)
    kb = KnowledgeBase(dim=DIM, manifest={"model": "fake", "note": "慈溪"})
    kb.add(chunks, vectors)
    return kb, chunks, vectors, unit(rng, 7)


def test_search_matches_brute_force(populated):
    kb, chunks, vectors, queries = populated
    scores, hits = kb.search(queries, 5)
    want_scores, want_ids = brute_force(vectors, chunks, queries, 5)
    assert [[c.id for c in row] for row in hits] == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(tmp_path, populated):
    kb, chunks, vectors, queries = populated
    save(kb, tmp_path / "index")
    assert sorted(os.listdir(tmp_path / "index")) == sorted([CHUNKS, MANIFEST, VECTORS])
    assert os.listdir(tmp_path) == ["index"]  # no temp or .old folder left behind
    loaded = load(tmp_path / "index")
    assert list(loaded.chunks.values()) == chunks  # same chunks, same order, equal fields
    assert loaded.dim == DIM and len(loaded) == 30
    assert loaded.manifest["model"] == "fake" and loaded.manifest["note"] == "慈溪"
    assert loaded.manifest["count"] == 30 and loaded.manifest["dim"] == DIM
    np.testing.assert_allclose(loaded.vectors_of(chunks), vectors, atol=1e-6)
    scores, hits = loaded.search(queries, 6)
    want_scores, want_ids = brute_force(vectors, chunks, queries, 6)
    assert [[c.id for c in row] for row in hits] == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)
    assert read_manifest(tmp_path / "index")["count"] == 30
    # chunks.sqlite is a plain SQLite table, one chunk a row, in the order they were added
    with sqlite3.connect(tmp_path / "index" / CHUNKS) as con:
        ids = [r[0] for r in con.execute("SELECT id FROM chunks ORDER BY pos")]
    assert ids == [c.id for c in chunks]


def test_search_k_larger_than_index(populated):
    kb, chunks, vectors, queries = populated
    scores, hits = kb.search(queries[:2], 100)
    assert scores.shape == (2, 30)
    assert all(len(row) == 30 for row in hits)
    assert np.isfinite(scores).all() and scores.min() > -1.01  # no -FLT_MAX padding
    assert {c.id for c in hits[0]} == {c.id for c in chunks}


def test_search_drops_minus_one_padding():
    kb = KnowledgeBase(dim=DIM)
    chunks = make_chunks(3)
    kb.add(chunks, unit(np.random.default_rng(0), 3))
    kb.index.remove_ids(np.array([kb_id for kb_id in list(kb.chunks)[:1]], dtype=np.int64))
    # chunks and vectors now disagree (3 vs 2): faiss pads the third hit with id -1
    scores, hits = kb.search(unit(np.random.default_rng(1), 1), 3)
    assert len(hits[0]) == 2 and scores.shape == (1, 2)
    assert chunks[0] not in hits[0]


def test_search_empty_index_and_empty_batch(populated):
    empty = KnowledgeBase(dim=DIM)
    scores, hits = empty.search(unit(np.random.default_rng(0), 2), 5)
    assert scores.shape == (2, 0) and hits == [[], []]
    kb, *_ = populated
    scores, hits = kb.search(np.zeros((0, DIM), np.float32), 5)
    assert scores.shape[0] == 0 and hits == []


def test_add_skips_chunks_already_present(populated):
    kb, chunks, vectors, _ = populated
    kb.add(chunks[:5], vectors[:5] * 0)  # same ids again: ignored, old vectors kept
    assert len(kb) == 30 and kb.index.ntotal == 30
    np.testing.assert_allclose(kb.vectors_of(chunks[:5]), vectors[:5], atol=1e-6)


def test_remove_source(tmp_path, populated):
    kb, chunks, vectors, queries = populated
    assert kb.sources == ["a.md", "b.txt", "c.txt"]
    removed = kb.remove_source("b.txt")
    assert removed == 10
    assert kb.remove_source("b.txt") == 0
    assert len(kb) == 20 and kb.index.ntotal == 20
    assert kb.sources == ["a.md", "c.txt"]
    keep = [i for i, c in enumerate(chunks) if c.source != "b.txt"]
    kept_chunks = [chunks[i] for i in keep]
    np.testing.assert_allclose(kb.vectors_of(kept_chunks), vectors[keep], atol=1e-6)
    for target in (kb, (save(kb, tmp_path / "i"), load(tmp_path / "i"))[1]):
        scores, hits = target.search(queries, 25)
        assert all(c.source != "b.txt" for row in hits for c in row)
        want_scores, want_ids = brute_force(vectors[keep], kept_chunks, queries, 20)
        assert [[c.id for c in row] for row in hits] == want_ids
        np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)


def _other_kb() -> KnowledgeBase:
    kb = KnowledgeBase(dim=DIM, manifest={"model": "new"})
    kb.add(make_chunks(4, salt="新"), unit(np.random.default_rng(7), 4))
    return kb


def _assert_is_original(folder, chunks):
    loaded = load(folder)
    assert list(loaded.chunks.values()) == chunks
    assert loaded.manifest["model"] == "fake"


def test_interrupted_swap_keeps_previous_index(tmp_path, populated, monkeypatch):
    kb, chunks, _, _ = populated
    folder = tmp_path / "index"
    save(kb, folder)
    calls = []
    real_replace = os.replace

    def flaky_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr("qa.stores.faiss.os.replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        save(_other_kb(), folder)
    monkeypatch.undo()
    assert len(calls) == 2
    assert not folder.exists()  # the crash left the old index under its .old name
    _assert_is_original(folder, chunks)  # ...and loading restores it
    assert sorted(os.listdir(tmp_path)) == ["index"]  # the temp folder was cleaned up
    save(_other_kb(), folder)  # and saving works again afterwards
    assert load(folder).manifest["model"] == "new"
    assert sorted(os.listdir(tmp_path)) == ["index"]


def test_failed_vector_write_keeps_previous_index(tmp_path, populated, monkeypatch):
    kb, chunks, _, _ = populated
    folder = tmp_path / "index"
    save(kb, folder)

    def broken_write(index, path):
        open(path, "wb").write(b"half a file")
        raise RuntimeError("write failed")

    monkeypatch.setattr(faiss, "write_index", broken_write)
    with pytest.raises(StorageError, match="write failed"):  # a message naming the cause
        save(_other_kb(), folder)
    monkeypatch.undo()
    _assert_is_original(folder, chunks)
    assert sorted(os.listdir(tmp_path)) == ["index"]


def test_first_save_interrupted_leaves_nothing(tmp_path, populated, monkeypatch):
    kb, *_ = populated
    monkeypatch.setattr(faiss, "write_index", lambda *a: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(StorageError):
        save(kb, tmp_path / "index")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    with pytest.raises(IndexMismatch, match="没有可用的索引"):
        load(tmp_path / "index")
    assert read_manifest(tmp_path / "index") is None


def test_recover_after_crash_between_renames(tmp_path, populated):
    kb, chunks, _, _ = populated
    folder = tmp_path / "index"
    save(kb, folder)
    old = tmp_path / ".index.old"
    os.replace(folder, old)  # state right after the first rename of a save
    assert _recover(folder) == folder
    assert folder.is_dir() and not old.exists()
    _assert_is_original(folder, chunks)
    os.replace(folder, old)
    assert read_manifest(folder)["count"] == 30  # reading the manifest recovers too
    assert folder.is_dir() and not old.exists()


def test_recover_leaves_a_complete_index_alone(tmp_path, populated):
    kb, chunks, _, _ = populated
    folder = tmp_path / "index"
    save(kb, folder)
    save(_other_kb(), tmp_path / "other")
    os.replace(tmp_path / "other", tmp_path / ".index.old")  # stale leftover
    _recover(folder)
    assert load(folder).manifest["model"] == "fake"


@pytest.mark.parametrize(
    "damage",
    ["drop_last_line", "cut_mid_line", "no_vectors", "no_chunks", "bad_manifest", "bad_vectors"],
)
def test_damaged_index_raises_index_mismatch(tmp_path, populated, damage):
    kb, *_ = populated
    folder = tmp_path / "index"
    save(kb, folder)
    path = folder / CHUNKS
    data = path.read_bytes()
    if damage == "drop_last_line":
        path.write_bytes(data[:-4096])
    elif damage == "cut_mid_line":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "no_vectors":
        (folder / VECTORS).unlink()
    elif damage == "no_chunks":
        path.unlink()
    elif damage == "bad_manifest":
        (folder / MANIFEST).write_text("{not json", "utf-8")
    elif damage == "bad_vectors":
        (folder / VECTORS).write_bytes(b"garbage")
    with pytest.raises(IndexMismatch, match="索引"):
        load(folder)


def test_dimension_disagreement_is_damage(tmp_path, populated):
    kb, *_ = populated
    save(kb, tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / MANIFEST).read_text("utf-8"))
    manifest["dim"] = DIM * 2
    (tmp_path / "index" / MANIFEST).write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatch, match="不一致"):
        load(tmp_path / "index")


def _edit_text(folder, old: str, new: str) -> None:
    """Change one passage's text inside the stored SQLite file, as a tamperer would."""
    with sqlite3.connect(folder / CHUNKS) as con:
        con.execute("UPDATE chunks SET text = replace(text, ?, ?)", (old, new))


def test_edited_passage_text_is_a_damaged_index(tmp_path, populated):
    kb, *_ = populated
    save(kb, tmp_path / "index")
    _edit_text(tmp_path / "index", "第3段", "第9段")
    with pytest.raises(DamagedIndex, match="chunks.sqlite 在保存后被改动"):
        load(tmp_path / "index")


def test_flipped_vector_byte_is_a_damaged_index(tmp_path, populated):
    kb, *_ = populated
    save(kb, tmp_path / "index")
    path = tmp_path / "index" / VECTORS
    data = bytearray(path.read_bytes())
    data[-17] ^= 0x01  # one bit of one vector component: faiss itself reads it fine
    path.write_bytes(bytes(data))
    faiss.read_index(str(path))
    with pytest.raises(DamagedIndex, match="vectors.faiss 在保存后被改动"):
        load(tmp_path / "index")


def test_text_altered_after_load_is_never_served(tmp_path, populated):
    kb, chunks, vectors, queries = populated
    save(kb, tmp_path / "index")
    loaded = load(tmp_path / "index")  # checksums fine; passages are read on demand
    _edit_text(tmp_path / "index", "第", "弟")
    with pytest.raises(DamagedIndex, match="被改动过"):
        loaded.search(queries, 5)
    with pytest.raises(DamagedIndex, match="被改动过"):
        list(loaded.chunks.values())


def test_chunk_map_keeps_changes_over_the_stored_table(tmp_path, populated):
    kb, chunks, vectors, queries = populated
    save(kb, tmp_path / "index")
    loaded = load(tmp_path / "index")
    extra = make_chunks(3, sources=("d.md",), salt="新")
    loaded.add(extra, unit(np.random.default_rng(5), 3))
    assert loaded.remove_source("a.md") == 10
    want = [c for c in chunks if c.source != "a.md"] + extra
    assert list(loaded.chunks.values()) == want and len(loaded) == 23
    assert loaded.sources == ["b.txt", "c.txt", "d.md"]
    assert chunks[0].id not in {c.id for row in loaded.search(queries, 30)[1] for c in row}
    save(loaded, tmp_path / "index")
    assert list(load(tmp_path / "index").chunks.values()) == want


def test_large_index_is_ivf_with_high_recall(tmp_path, monkeypatch):
    monkeypatch.setattr("qa.stores.faiss.LARGE_THRESHOLD", 500)
    monkeypatch.setattr("qa.stores.faiss.IVF_LISTS", 16)
    monkeypatch.setattr("qa.stores.faiss.IVF_PROBE", 4)
    monkeypatch.setattr("qa.stores.faiss.RETYPE_BATCH", 300)  # copied over in 7 batches
    rng = np.random.default_rng(3)
    topics = unit(rng, 16)  # passages cluster by topic, as real embeddings do
    chunks, vectors = make_chunks(2000), clustered(rng, topics, 2000)
    kb = KnowledgeBase(dim=DIM)
    kb.add(chunks, vectors)
    save(kb, tmp_path / "index")
    loaded = load(tmp_path / "index")
    assert loaded.manifest["faiss"] == "ivf"
    assert loaded.ids().tolist() == [faiss_id(c.id) for c in chunks]
    np.testing.assert_allclose(loaded.vectors_of(chunks[-3:]), vectors[-3:], atol=1e-6)
    queries = clustered(rng, topics, 20)
    _, hits = loaded.search(queries, 100)
    _, want = brute_force(vectors, chunks, queries, 100)
    recall = np.mean([len({c.id for c in h} & set(w)) / 100 for h, w in zip(hits, want)])
    assert recall >= 0.98
    extra = make_chunks(5, sources=("d.md",), salt="新")  # added to the trained lists
    loaded.add(extra, unit(rng, 5))
    assert loaded.search(loaded.vectors_of(extra[:1]), 1)[1][0][0] == extra[0]
    assert loaded.remove_source("a.md") > 0  # removing from IVF: falls back to exact
    assert loaded.manifest["faiss"] == "ivf" and is_exact(loaded.index)
    assert all(c.source != "a.md" for row in loaded.search(queries, 50)[1] for c in row)


def test_page_location_and_date_survive_the_round_trip(tmp_path):
    text = "第六页的正文。"
    cid = chunk_id("r.pdf", ("一、概况",), text)
    chunk = Chunk(cid, "r.pdf", "报告", ("一、概况",), 0, 7, text, 6, 7, "第 6–7 页", "2021-03-04")
    bare = make_chunks(1, sources=("a.md",))[0]
    kb = KnowledgeBase(dim=DIM)
    kb.add([chunk, bare], unit(np.random.default_rng(0), 2))
    save(kb, tmp_path / "index")
    loaded = load(tmp_path / "index")
    assert list(loaded.chunks.values()) == [chunk, bare]
    assert loaded.chunks[int(cid[:15], 16)].location == "第 6–7 页"
