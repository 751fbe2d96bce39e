"""BM25 index: document frequencies, save/load (memory-mapped), and the stored index being
used by the retriever instead of re-tokenising every passage."""

from __future__ import annotations

from collections import Counter

import numpy as np

from embeddings import FakeEncoder
from qa import Chunk
from qa.chunking import chunk_id
from qa.lexical import BM25Index
from qa.retrieval import Retriever, lexical_index
from qa.stores import KnowledgeBase, load, save

TEXTS = [
    "慈溪市位于浙江省东北部，杭州湾南岸。",
    "杭州湾跨海大桥全长三十六公里。",
    "",
    "慈溪杨梅以个大、味甜著称，杨梅每年六月成熟。",
    "前湾新区位于杭州湾南岸，规划面积604平方公里。",
]


def test_df_and_idf_match_counting(shared_tokenizer):
    tokenizer = shared_tokenizer
    index = BM25Index(TEXTS, tokenizer)
    df = Counter(t for text in TEXTS for t in set(tokenizer.tokens(text) or ["<empty>"]))
    assert all(index.df(term) == n for term, n in df.items())
    assert index.df("没有的词") == 0
    n = len(TEXTS)
    assert index.idf("杭州湾") == np.log(1 + (n - 3 + 0.5) / 3.5)
    assert index.idf("没有的词") > index.idf("杨梅") > index.idf("杭州湾")


def test_save_load_round_trip_is_memory_mapped(tmp_path, shared_tokenizer):
    tokenizer = shared_tokenizer
    index = BM25Index(TEXTS, tokenizer)
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25", tokenizer)
    assert isinstance(loaded._bm25.scores["data"], np.memmap)
    for query in ["杭州湾南岸", "杨梅", "没有的词", "慈溪 大桥"]:
        np.testing.assert_allclose(loaded.scores(query), index.scores(query))
    assert loaded.n_docs == len(TEXTS) and loaded.idf("杨梅") == index.idf("杨梅")


def _kb(texts) -> KnowledgeBase:
    chunks = [Chunk(chunk_id("a.md", (), t), "a.md", "标题", (), 0, len(t), t) for t in texts]
    kb = KnowledgeBase(dim=32)
    kb.add(chunks, FakeEncoder(32).encode_passages(texts))
    return kb


def test_stored_lexical_index_is_used_by_the_retriever(tmp_path, shared_tokenizer, monkeypatch):
    tokenizer = shared_tokenizer
    texts = [t for t in TEXTS if t]
    kb = _kb(texts)
    kb.lexical = lexical_index(kb, tokenizer)
    save(kb, tmp_path / "index")
    loaded = load(tmp_path / "index")
    assert loaded.lexical is not None and loaded.manifest["lexical"] is True
    monkeypatch.setattr(
        "qa.retrieval.lexical_index", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt"))
    )
    retriever = Retriever(loaded, FakeEncoder(32), tokenizer)
    monkeypatch.undo()
    fresh = Retriever(_kb(texts), FakeEncoder(32), tokenizer)
    for query in ["杭州湾南岸在哪", "杨梅几月成熟"]:
        got, want = retriever.search(query, 3), fresh.search(query, 3)
        assert [(p.chunk, round(p.score, 5)) for p in got] == [
            (p.chunk, round(p.score, 5)) for p in want
        ]


def test_a_change_drops_the_stale_lexical_index(tmp_path, shared_tokenizer):
    tokenizer = shared_tokenizer
    kb = _kb(TEXTS[:2])
    retriever = Retriever(kb, FakeEncoder(32), tokenizer)
    assert kb.lexical is retriever.bm25
    extra = _kb(TEXTS[3:4])
    kb.add(list(extra.chunks.values()), extra.vectors_of(list(extra.chunks.values())))
    assert kb.lexical is None
    retriever.refresh()
    assert retriever.bm25.n_docs == 3 and kb.lexical is retriever.bm25
    assert retriever.search("杨梅", 1)[0].chunk.text == TEXTS[3]
    save(kb, tmp_path / "index")
    assert load(tmp_path / "index").lexical.n_docs == 3


def test_saved_index_is_only_used_with_the_dictionary_it_was_built_with(tmp_path):
    from qa.text import Tokenizer

    texts = [t for t in TEXTS if t]
    built_with = Tokenizer()
    kb = _kb(texts)
    kb.lexical = lexical_index(kb, built_with)
    save(kb, tmp_path / "index")
    same = Tokenizer()
    assert Retriever(load(tmp_path / "index"), FakeEncoder(32), same).bm25.key == same.key()
    loaded = load(tmp_path / "index")
    stored = loaded.lexical
    other = Tokenizer()
    other.add_words({"湾南岸": "n"})  # another dictionary cuts the same text differently
    retriever = Retriever(loaded, FakeEncoder(32), other)
    assert retriever.bm25 is not stored and retriever.bm25.key == other.key() != same.key()


def test_a_later_start_reuses_the_bm25_saved_with_the_index(tmp_path, monkeypatch):
    """On the bundled corpus the vocabulary learned by a tokenizer that already holds it
    differs from a fresh one's; the saved BM25 must match what a fresh start learns."""
    from qa import Assistant
    from qa.indexing import DEFAULT_CORPUS

    first = Assistant.open(tmp_path / "index", corpus=DEFAULT_CORPUS, model=FakeEncoder(32))
    assert first.kb.manifest["lexical"] is True and first.tokenizer.added
    monkeypatch.setattr(
        "qa.retrieval.lexical_index", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt"))
    )
    again = Assistant.open(tmp_path / "index", corpus=DEFAULT_CORPUS, model=FakeEncoder(32))
    assert again.retriever.bm25 is again.kb.lexical
    assert again.tokenizer.key() == first.kb.manifest["lexical_key"]
    assert again.ask("慈溪有几家国家级单项冠军企业？").short_answer == "3家"


def test_index_from_streamed_ids_scores_as_bm25s_over_token_lists(shared_tokenizer):
    import bm25s

    texts = [*TEXTS, "杭州湾南岸的杨梅，杨梅。"]
    index = BM25Index(texts, shared_tokenizer)
    plain = bm25s.BM25(k1=1.2, b=0.75)  # the library's own path: every passage's token list
    plain.index([shared_tokenizer.tokens(t) or ["<empty>"] for t in texts], show_progress=False)
    for query in ["杭州湾南岸", "杨梅", "慈溪 大桥", "规划面积"]:
        terms = [t for t in shared_tokenizer.tokens(query) if t in plain.vocab_dict]
        np.testing.assert_allclose(index.scores(query), plain.get_scores(terms), rtol=1e-6)
