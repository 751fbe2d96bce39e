"""Asking within chosen documents: the ``sources`` filter of ``Retriever.search_many`` and
``Assistant.ask``, compared with brute force over all fused scores (FakeEncoder)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import FakeEncoder
from qa import Assistant
from qa.fusion import weighted_fusion

DOCS = {
    "a.md": "# 工业\n\n2020年规上工业总产值达到2450亿元。\n\n全市拥有规上企业2300家。\n",
    "b.txt": "新区概况\n\n前湾新区规划面积604平方公里。\n\n2020年新区工业产值突破1500亿元。\n",
    "c.txt": "农业概况\n\n开发区建成高标准农田12万亩。\n\n2020年农业产值达到80亿元。\n",
}
QUERIES = ["2020年工业产值是多少？", "规划面积多大？", "农田有多少亩？"]

pytestmark = pytest.mark.usefixtures("shared_tokenizer")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("filter")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Assistant.open(root / "index", corpus=corpus, model=FakeEncoder())


def brute_force(retriever, query: str, k: int, sources: set[str]) -> list[tuple[str, float]]:
    """All chunks' fused scores, the chosen documents' chunks only, best k (ties by order)."""
    vectors = retriever.encoder.encode_queries([query])
    lexical, dense = retriever.score_many([query], vectors)[0]
    fused = weighted_fusion(lexical, dense, retriever.lexical_weight)
    order = np.argsort(-fused, kind="stable")
    chunks = retriever.chunks_at(order)
    keep = [(c, i) for c, i in zip(chunks, order) if c.source in sources]
    return [(c.id, float(fused[i])) for c, i in keep[:k]]


@pytest.mark.parametrize("sources", [{"a.md"}, {"b.txt", "c.txt"}, {"a.md", "b.txt", "c.txt"}])
def test_filtered_search_matches_brute_force(assistant, sources):
    retriever = assistant.retriever
    for k in (1, 2, 10):
        got = retriever.search_many(QUERIES, k, sources)
        for query, passages in zip(QUERIES, got):
            assert {p.chunk.source for p in passages} <= sources
            want = brute_force(retriever, query, k, sources)
            assert [p.chunk.id for p in passages] == [i for i, _ in want]
            assert [p.score for p in passages] == pytest.approx([s for _, s in want])


def test_no_filter_is_all_documents_and_unknown_names_find_nothing(assistant):
    retriever = assistant.retriever
    everything = retriever.search_many(QUERIES, 5)
    assert retriever.search_many(QUERIES, 5, None) == everything
    assert retriever.search_many(QUERIES, 5, set(DOCS)) == everything
    assert retriever.search_many(QUERIES, 5, {"missing.md"}) == [[], [], []]


def test_ask_cites_only_the_chosen_documents(assistant):
    question = "2020年工业产值是多少？"
    assert {c.source for c in assistant.ask(question).citations} >= {"a.md", "b.txt"}
    answer = assistant.ask(question, sources={"b.txt"})
    assert answer.citations and {c.source for c in answer.citations} == {"b.txt"}
    many = assistant.ask_many([question, "农田有多少亩？"], sources={"c.txt"})
    assert all(c.source == "c.txt" for a in many for c in a.citations)
    nothing = assistant.ask(question, sources=set())
    assert not nothing.found and nothing.citations == ()
