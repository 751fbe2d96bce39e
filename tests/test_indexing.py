"""Build, refresh and open: reuse of unchanged vectors, rebuilds on mismatch, refusals."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
import pytest

from embeddings import FakeEncoder
from qa import ChunkParams, IndexMismatch, build_index, chunk_document, open_index, read_document
from qa.retrieval import indexed_text
from qa.stores import CHUNKS, VECTORS, DamagedIndex, load
from qa.stores.checkpoint import checkpoint_path

INDUSTRY = """# 慈溪市工业发展报告

## 一、总体情况

2020年，慈溪市规上工业总产值达到2450亿元，同比增长8.5%。全市拥有规上企业2300家。

## 二、重点项目

三年来，累计引进总投资亿元以上产业项目47个，建成投用5亿元以上项目18个。

## 三、科技创新

规模以上工业企业研发机构覆盖率达79.4%，比去年同期增长10个百分点。
"""
BAY = """前湾新区建设情况

前湾新区位于杭州湾南岸，规划面积604平方公里，是浙江省四大新区之一。

新区重点发展汽车制造、生命健康和智能家电等产业。
"""


class CountingEncoder(FakeEncoder):
    """FakeEncoder that records every passage it embeds."""

    def __init__(self, dim: int = 32, name: str = "fake"):
        super().__init__(dim=dim, name=name)
        self.embedded: list[str] = []

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return super().encode_passages(texts, progress)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "industry.md").write_text(INDUSTRY, encoding="utf-8")
    (folder / "bay.txt").write_bytes(BAY.encode("gb18030"))
    (folder / "broken.txt").write_bytes(b"\x00\x01binary")
    return folder


def all_chunks(folder, params=ChunkParams()):
    return [
        c
        for p in sorted(folder.iterdir())
        if p.name != "broken.txt"
        for c in chunk_document(read_document(p), params)
    ]


def assert_vectors_fresh(kb, encoder):
    """Every stored vector is what the encoder gives for that chunk (brute force)."""
    chunks = list(kb.chunks.values())
    want = FakeEncoder(encoder.dim, encoder.name).encode_passages([indexed_text(c) for c in chunks])
    np.testing.assert_allclose(kb.vectors_of(chunks), want, atol=1e-6)


def test_build_index(tmp_path, corpus):
    enc = CountingEncoder()
    skipped = []
    kb = build_index(corpus, tmp_path / "idx", enc, on_skip=lambda p, why: skipped.append(p.name))
    assert skipped == ["broken.txt"]
    expected = all_chunks(corpus)
    assert {c.id for c in kb.chunks.values()} == {c.id for c in expected}
    assert sorted(enc.embedded) == sorted(indexed_text(c) for c in expected)
    assert sorted(kb.sources) == ["bay.txt", "industry.md"]
    assert kb.manifest["model"] == "fake" and kb.manifest["dim"] == 32
    assert kb.manifest["chunking"] == {"size": 300, "overlap": 60}
    assert sorted(kb.manifest["documents"]) == ["bay.txt", "industry.md"]
    assert_vectors_fresh(kb, enc)
    on_disk = load(tmp_path / "idx")
    assert list(on_disk.chunks.values()) == list(kb.chunks.values())


def test_build_index_missing_corpus(tmp_path):
    with pytest.raises(FileNotFoundError, match="找不到文档文件夹"):
        build_index(tmp_path / "nope", tmp_path / "idx", FakeEncoder())


def test_unchanged_corpus_loads_without_embedding(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    enc = CountingEncoder()
    kb = open_index(corpus, tmp_path / "idx", enc)
    assert enc.embedded == []
    assert len(kb) == len(all_chunks(corpus))


def test_an_index_read_by_older_readers_is_re_read_keeping_its_vectors(
    tmp_path, corpus, monkeypatch
):
    import qa.indexing

    monkeypatch.setattr(qa.indexing, "READING_VERSION", 1)
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    monkeypatch.setattr(qa.indexing, "READING_VERSION", 2)  # the readers changed since
    reads = []
    monkeypatch.setattr(qa.indexing, "read_document", lambda *a, **k: reads.append(a[1]) or
                        read_document(*a, **k))  # fmt: skip
    enc = CountingEncoder()
    kb = open_index(corpus, tmp_path / "idx", enc)
    assert sorted(reads) == ["bay.txt", "broken.txt", "industry.md"] and enc.embedded == []
    assert kb.manifest["reading"] == 2 and len(kb) == len(all_chunks(corpus))
    reads.clear()
    open_index(corpus, tmp_path / "idx", enc)
    assert reads == [], "read once: the next open loads it"


def test_refresh_reembeds_only_changed_chunks(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    old_ids = {c.id for c in load(tmp_path / "idx").chunks.values()}
    edited = INDUSTRY.replace("79.4%", "81.2%")
    (corpus / "industry.md").write_text(edited, encoding="utf-8")

    enc = CountingEncoder()
    kb = open_index(corpus, tmp_path / "idx", enc)
    new_chunks = all_chunks(corpus)
    changed = [c for c in new_chunks if c.id not in old_ids]
    assert len(changed) == 1 and "81.2%" in changed[0].text
    assert enc.embedded == [indexed_text(changed[0])]
    assert {c.id for c in kb.chunks.values()} == {c.id for c in new_chunks}
    assert not any("79.4%" in c.text for c in kb.chunks.values())
    assert_vectors_fresh(kb, enc)  # reused vectors belong to the right chunks
    assert open_index(corpus, tmp_path / "idx", enc) is not None
    assert enc.embedded == [indexed_text(changed[0])]  # nothing more on the next open


def test_refresh_added_and_removed_files(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    (corpus / "bay.txt").unlink()
    new = "现代农业开发区\n\n现代农业开发区建成高标准农田12万亩。\n"
    (corpus / "farm.txt").write_text(new, encoding="utf-8")
    enc = CountingEncoder()
    kb = open_index(corpus, tmp_path / "idx", enc)
    assert sorted(kb.sources) == ["farm.txt", "industry.md"]
    farm = chunk_document(read_document(corpus / "farm.txt"))
    assert enc.embedded == [indexed_text(c) for c in farm]
    assert sorted(kb.manifest["documents"]) == ["farm.txt", "industry.md"]
    assert_vectors_fresh(kb, enc)


@pytest.mark.parametrize(
    ("encoder", "params", "what"),
    [
        (CountingEncoder(name="other-model"), ChunkParams(), "model"),
        (CountingEncoder(dim=48), ChunkParams(), "dim"),
        (CountingEncoder(), ChunkParams(size=120, overlap=20), "chunking"),
    ],
)
def test_open_rebuilds_on_mismatch_with_corpus(tmp_path, corpus, encoder, params, what):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    encoder.embedded.clear()
    kb = open_index(corpus, tmp_path / "idx", encoder, params)
    expected = all_chunks(corpus, params)
    assert sorted(encoder.embedded) == sorted(indexed_text(c) for c in expected)  # all fresh
    on_disk = load(tmp_path / "idx")
    for m in (kb.manifest, on_disk.manifest):
        assert m["model"] == encoder.name and m["dim"] == encoder.dim
        assert m["chunking"] == params.to_json()
    assert on_disk.dim == encoder.dim == kb.dim
    assert_vectors_fresh(on_disk, encoder)


@pytest.mark.parametrize(
    ("encoder", "params", "needle"),
    [
        (FakeEncoder(dim=32, name="other-model"), ChunkParams(), "'other-model'"),
        (FakeEncoder(dim=48), ChunkParams(), "python -m qa index"),
        (FakeEncoder(dim=32), ChunkParams(size=120, overlap=20), "'size': 120"),
    ],
)
def test_open_without_corpus_refuses_mismatch(tmp_path, corpus, encoder, params, needle):
    build_index(corpus, tmp_path / "idx", FakeEncoder(dim=32))
    with pytest.raises(IndexMismatch) as err:
        open_index(None, tmp_path / "idx", encoder, params)
    message = str(err.value)
    assert "'fake'" in message and needle in message
    assert str(tmp_path / "idx") in message
    assert load(tmp_path / "idx").manifest["model"] == "fake"  # left untouched


def test_open_without_corpus_no_index(tmp_path):
    with pytest.raises(IndexMismatch, match="没有索引.*python -m qa index"):
        open_index(None, tmp_path / "idx", FakeEncoder())


def test_open_without_corpus_takes_stale_index_as_is(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", FakeEncoder(dim=32))
    (corpus / "bay.txt").unlink()
    enc = CountingEncoder()
    kb = open_index(None, tmp_path / "idx", enc)
    assert enc.embedded == [] and "bay.txt" in kb.sources


def _tamper(folder, what: str) -> None:
    """Alter a stored index the way issue 9 found it served: passage text or vector bytes."""
    if what == "text":
        with sqlite3.connect(folder / CHUNKS) as con:
            con.execute("UPDATE chunks SET text = replace(text, '2300家', '9300家')")
    else:
        data = bytearray((folder / VECTORS).read_bytes())
        data[len(data) // 2] ^= 0x01
        (folder / VECTORS).write_bytes(bytes(data))


@pytest.mark.parametrize("what", ["text", "vectors"])
def test_open_rebuilds_damaged_index(tmp_path, corpus, what):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    _tamper(tmp_path / "idx", what)
    enc = CountingEncoder()
    kb = open_index(corpus, tmp_path / "idx", enc)
    assert len(enc.embedded) == len(all_chunks(corpus))  # nothing reused from the damage
    texts = [c.text for c in kb.chunks.values()]
    assert any("2300家" in t for t in texts) and not any("9300家" in t for t in texts)
    assert len(load(tmp_path / "idx")) == len(kb)


@pytest.mark.parametrize("what", ["text", "vectors"])
def test_damaged_index_without_documents_is_refused(tmp_path, corpus, what):
    build_index(corpus, tmp_path / "idx", CountingEncoder())
    _tamper(tmp_path / "idx", what)
    with pytest.raises(DamagedIndex, match="在保存后被改动"):
        open_index(None, tmp_path / "idx", CountingEncoder())


class FailingEncoder(CountingEncoder):
    """Embeds ``budget`` batches, then fails as an interrupted run would."""

    def __init__(self, budget: int):
        super().__init__()
        self.budget = budget

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if self.budget == 0:
            raise KeyboardInterrupt
        self.budget -= 1
        return super().encode_passages(texts, progress)


def test_interrupted_build_resumes_without_re_embedding(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr("qa.stores.checkpoint.BATCH", 2)
    total = len(all_chunks(corpus))
    assert total > 2
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, tmp_path / "idx", FailingEncoder(budget=1))
    assert checkpoint_path(tmp_path / "idx").exists() and not (tmp_path / "idx").exists()
    enc = CountingEncoder()
    kb = build_index(corpus, tmp_path / "idx", enc)
    assert len(enc.embedded) == total - 2  # the batch of 2 done before was kept
    assert len(kb) == total and not checkpoint_path(tmp_path / "idx").exists()
    fresh = build_index(corpus, tmp_path / "fresh", FakeEncoder(dim=32))
    chunks = list(fresh.chunks.values())
    np.testing.assert_allclose(kb.vectors_of(chunks), fresh.vectors_of(chunks), atol=1e-6)


def test_checkpoint_of_another_model_is_not_used(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr("qa.stores.checkpoint.BATCH", 2)
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, tmp_path / "idx", FailingEncoder(budget=1))
    enc = CountingEncoder(name="other")
    build_index(corpus, tmp_path / "idx", enc)
    assert len(enc.embedded) == len(all_chunks(corpus))
