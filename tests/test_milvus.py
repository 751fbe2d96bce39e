"""The Milvus store against Milvus Lite: same passages and rankings as the embedded store,
verified reads, changes, and the manifest swap that drops a replaced collection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embeddings import FakeEncoder
from qa import build_index, open_index
from qa.retrieval import Retriever
from qa.stores import DamagedIndex, KnowledgeBase, load
from qa.stores.milvus import DEFAULT_COLLECTION, analyzer, is_milvus_uri, parse_uri

DOCS = {
    "industry.md": "# 慈溪市工业发展报告\n\n## 一、总体情况\n\n2020年，慈溪市规上工业总产值达到"
    "2450亿元，同比增长8.5%。全市拥有规上企业2300家。\n\n## 二、科技创新\n\n规模以上工业企业"
    "研发机构覆盖率达79.4%，比去年同期增长10个百分点。\n",
    "bay.txt": "前湾新区建设情况\n\n前湾新区位于杭州湾南岸，规划面积604平方公里，是浙江省四大"
    "新区之一。\n\n新区重点发展汽车制造、生命健康和智能家电等产业。\n",
    "farm.txt": "慈溪杨梅以个大、色深、味甜著称，每年六月中下旬进入成熟采摘期。\n\n"
    "慈溪的葡萄种植面积约三万亩。\n",
}
QUERIES = ["规上企业有多少家", "前湾新区规划面积多大", "杨梅什么时候成熟", "研发机构覆盖率"]


def test_parse_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    t = parse_uri("milvus://10.0.0.5:19530/county_docs")
    assert (t.uri, t.collection, t.lite) == ("http://10.0.0.5:19530", "county_docs", False)
    assert parse_uri("milvus+https://h.example:443/c").uri == "https://h.example:443"
    assert parse_uri("milvus://localhost:19530").collection == DEFAULT_COLLECTION
    lite = parse_uri(str(tmp_path / "kb.db"))
    assert (
        lite.lite and lite.uri == str(tmp_path / "kb.db") and lite.collection == DEFAULT_COLLECTION
    )
    assert parse_uri(str(tmp_path / "kb.db" / "mine")).collection == "mine"
    assert is_milvus_uri("milvus://h:1/c") and is_milvus_uri("x/kb.db") and not is_milvus_uri("")
    with pytest.raises(ValueError, match="collection name"):
        parse_uri("milvus://h:19530/bad-name")


def test_analyzer_carries_the_user_dictionary_and_stop_words(tmp_path):
    (tmp_path / "dict.txt").write_text("前湾新区 50 ns\n八八战略 50 nz\n", "utf-8")
    params = analyzer(tmp_path / "dict.txt", ["的", "是"])
    assert params["tokenizer"]["dict"] == ["_default_", "前湾新区", "八八战略"]
    assert params["filter"][1] == {"type": "stop", "stop_words": ["是", "的"]}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, "utf-8")
    return folder


@pytest.fixture
def lite(tmp_path, monkeypatch):
    pytest.importorskip("milvus_lite")
    monkeypatch.setenv("QA_STORE_URI", str(tmp_path / "kb.db"))
    return tmp_path / "kb.db"


@pytest.mark.milvus
def test_milvus_ranks_like_the_embedded_store(
    tmp_path, corpus, lite, monkeypatch, shared_tokenizer
):
    enc = FakeEncoder(32)
    milvus_kb = open_index(corpus, tmp_path / "m_idx", enc, tokenizer=shared_tokenizer)
    assert type(milvus_kb).__name__ == "MilvusStore"
    manifest = json.loads((tmp_path / "m_idx" / "manifest.json").read_text("utf-8"))
    assert manifest["store"]["collection"] == milvus_kb.collection
    assert sorted(p.name for p in (tmp_path / "m_idx").iterdir()) == ["manifest.json"]
    monkeypatch.delenv("QA_STORE_URI")
    embedded = build_index(corpus, tmp_path / "e_idx", enc, tokenizer=shared_tokenizer)
    assert isinstance(embedded, KnowledgeBase)
    assert sorted(c.id for c in milvus_kb.chunks.values()) == sorted(embedded.chunks.keys()) or (
        sorted(c.id for c in milvus_kb.chunks.values())
        == sorted(c.id for c in embedded.chunks.values())
    )
    got = Retriever(milvus_kb, enc, shared_tokenizer).search_many(QUERIES, 3)
    want = Retriever(embedded, enc, shared_tokenizer).search_many(QUERIES, 3)
    assert [row[0].chunk for row in got] == [row[0].chunk for row in want]
    scores, hits = milvus_kb.search(enc.encode_queries(QUERIES), 5)
    e_scores, e_hits = embedded.search(enc.encode_queries(QUERIES), 5)
    np.testing.assert_allclose(scores, e_scores, atol=1e-5)
    assert Retriever(milvus_kb, enc, shared_tokenizer).bm25.idf("杨梅") > 0
    milvus_kb.ranker = "weighted"  # Milvus's own hybrid_search + WeightedRanker
    weighted = Retriever(milvus_kb, enc, shared_tokenizer).search_many(QUERIES, 3)
    for row, embedded_row in zip(weighted, want):
        assert row and [p.score for p in row] == sorted((p.score for p in row), reverse=True)
        assert row[0].chunk in [p.chunk for p in embedded_row]


@pytest.mark.milvus
def test_milvus_reopens_without_embedding_and_swaps_collections(tmp_path, corpus, lite):
    enc = FakeEncoder(32)
    first = open_index(corpus, tmp_path / "idx", enc)
    again = open_index(corpus, tmp_path / "idx", enc)  # fresh: the same collection
    assert again.collection == first.collection and len(again) == len(first)
    (corpus / "farm.txt").unlink()
    rebuilt = open_index(corpus, tmp_path / "idx", enc)
    assert rebuilt.collection != first.collection
    assert not rebuilt.client.has_collection(first.collection)  # dropped after the swap
    assert rebuilt.sources and "farm.txt" not in rebuilt.sources
    assert load(tmp_path / "idx").collection == rebuilt.collection


@pytest.mark.milvus
def test_milvus_text_altered_in_the_collection_is_never_served(tmp_path, corpus, lite):
    enc = FakeEncoder(32)
    kb = open_index(corpus, tmp_path / "idx", enc)
    row = kb.client.query(
        kb.collection, filter='source == "industry.md"', limit=1, output_fields=["*"]
    )[0]
    row = {k: v for k, v in row.items() if k != "sparse"}
    row["text"] = row["text"].replace("2300家", "9300家")
    kb.client.upsert(kb.collection, [row])
    with pytest.raises(DamagedIndex, match="被改动过"):
        list(kb.chunks.values())


@pytest.mark.milvus
def test_milvus_add_and_remove(tmp_path, corpus, lite):
    enc = FakeEncoder(32)
    kb = open_index(corpus, tmp_path / "idx", enc)
    n = len(kb)
    farm = kb.chunks.fids_of("farm.txt")
    assert kb.remove_source("farm.txt") == len(farm) > 0
    assert len(kb) == n - len(farm) and "farm.txt" not in kb.sources
    chunks = kb.chunks.many(kb.chunks.fids_of("bay.txt"))
    kb.add(chunks, kb.vectors_of(chunks))  # already there: nothing added
    assert len(kb) == n - len(farm)


@pytest.mark.milvus
def test_milvus_under_the_assistant_keeps_the_document_store(
    tmp_path, corpus, lite, shared_tokenizer
):
    from qa import Assistant
    from qa.chunking import chunk_id
    from qa.docstore import DocStore
    from qa.records import Chunk
    from qa.stores import faiss_id

    enc = FakeEncoder(32)
    assistant = Assistant.open(tmp_path / "idx", corpus=corpus, model=enc)
    first = assistant.kb.collection
    upload = tmp_path / "tide.txt"
    upload.write_text("钱塘江大潮每年农历八月十八最为壮观。\n", "utf-8")
    assistant.add_files([upload], by="editor")  # built aside in a new collection, then swapped
    kb = assistant.kb
    assert kb.collection != first and not kb.client.has_collection(first)
    assert "tide.txt" in kb.sources and "tide.txt" in DocStore(tmp_path / "idx").state()["uploads"]
    assert (tmp_path / "idx" / "documents").is_dir()  # carried over by the manifest swap
    hits = assistant.retriever.search_many(QUERIES, 3, {"farm.txt"})
    assert all(p.chunk.source == "farm.txt" for row in hits for p in row) and any(hits)
    assert assistant.retriever.search_many(QUERIES, 3, set()) == [[] for _ in QUERIES]
    assert assistant.remove_document("bay.txt") > 0
    rebuilt = Assistant.open(tmp_path / "idx", corpus=corpus, model=enc)  # from disk
    assert "bay.txt" not in rebuilt.kb.sources and "tide.txt" in rebuilt.kb.sources
    cid = chunk_id("p.pdf", (), "第三页的内容。")
    paged = Chunk(cid, "p.pdf", "P", (), 0, 7, "第三页的内容。", 3, 4, "第 3–4 页", "2020-01-02")
    rebuilt.kb.add([paged], enc.encode_passages(["第三页的内容。"]))
    assert rebuilt.kb.chunks[faiss_id(cid)] == paged  # page, location and date come back


@pytest.mark.milvus
def test_store_option_of_the_cli_picks_milvus_lite(tmp_path, corpus, monkeypatch, capsys):
    pytest.importorskip("milvus_lite")
    from qa.cli import main

    monkeypatch.delenv("QA_STORE_URI", raising=False)
    monkeypatch.setenv("QA_STORE_URI", "")  # restored after the test: main() sets it
    db, index = tmp_path / "kb.db", tmp_path / "idx"
    common = ["--index", str(index), "--corpus", str(corpus), "--model", "fake", "--yes"]
    assert main(["index", *common, "--store", str(db)]) == 0
    manifest = json.loads((index / "manifest.json").read_text("utf-8"))
    assert manifest["store"]["kind"] == "milvus" and manifest["store"]["uri"] == str(db)
    capsys.readouterr()
    assert main(["ask", *common, "--store", str(db), "前湾新区规划面积多大？"]) == 0
    assert "bay.txt" in capsys.readouterr().out
    assert main(["kb", "list", "--index", str(index), "--store", str(db)]) == 0
    assert "bay.txt" in capsys.readouterr().out
