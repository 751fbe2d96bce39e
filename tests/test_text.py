"""jieba tokenization with the domain user dictionary, stopwords, and BM25 on top of it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qa.lexical import BM25Index
from qa.text import STOPWORDS, Tokenizer, fold
from qa.vocabulary import corpus_terms

SENTENCE = "慈溪市前湾新区坚持八八战略的发展是什么？"


CORPUS = [
    "前湾新区是“八八战略”的实践地。前湾新区规划面积604平方公里。",
    "坚持“八八战略”，建设前湾新区；前湾新区的发展离不开八八战略。",
    "我们在前湾新区调研，前湾新区企业众多，每个前湾新区企业都在创新。",
    "前湾新区和杭州湾新区不同，慈溪的前湾新区是新的。",
]


@pytest.fixture(scope="module")
def tok():
    t = Tokenizer()
    t.add_words(corpus_terms(CORPUS, t.cut, t.tag_of))
    return t


@pytest.fixture(scope="module")
def plain_tok():
    return Tokenizer(userdict=None)


def test_corpus_vocabulary_holds_quoted_and_frequent_terms():
    terms = corpus_terms(CORPUS, Tokenizer(userdict=None).cut, lambda w: "x")
    assert terms["八八战略"] == "nz"  # quoted in the corpus
    assert terms["前湾新区"] == "n"  # frequent, with varied neighbours
    assert not any(t[0] in "的了和在" or t[-1] in "的了和在" for t in terms)


def test_corpus_vocabulary_counts_on_folded_text_and_keeps_jieba_words():
    """Traditional script is counted as the simplified text the tokenizer segments; a quoted
    term jieba already holds as one word keeps jieba's own tag."""
    texts = ["關於“腾笼换鸟”的報告", "“騰籠換鳥”是一種做法", "「國家」一詞"]
    terms = corpus_terms(texts, Tokenizer(userdict=None).cut, lambda w: "x")
    assert terms["腾笼换鸟"] == "nz" and "騰籠換鳥" not in terms
    assert "国家" not in terms


def test_fold_keeps_offsets():
    text = "我縣工業總產值達到512.6億元，GDP"
    folded = fold(text)
    assert folded == "我县工业总产值达到512.6亿元，gdp" and len(folded) == len(text)


@pytest.mark.parametrize("term", ["慈溪", "前湾新区", "八八战略"])
def test_domain_terms_kept_whole(tok, term):
    assert term in tok.tokens(SENTENCE)
    assert term in tok.tokens(f"关于{term}的调研报告")


@pytest.mark.parametrize("term", ["前湾新区", "八八战略"])
def test_user_dictionary_is_what_keeps_them_whole(plain_tok, term):
    assert term not in plain_tok.tokens(SENTENCE)


def test_stopwords_dropped(tok):
    words = tok.words(SENTENCE)
    tokens = tok.tokens(SENTENCE)
    assert {"的", "是", "什么"} <= set(words)
    assert not set(tokens) & STOPWORDS
    assert tokens == [w for w in words if w not in STOPWORDS]
    assert tok.tokens("请问是多少？") == []


def test_punctuation_removed(tok):
    words = tok.words("慈溪，“前湾新区”！（2020年）……")
    assert all(any(ch.isalnum() for ch in w) for w in words)
    assert "慈溪" in words and "2020" in words


def test_no_english_tokenizer(tok):
    # English goes through jieba too: lower-cased whole words, no stemming, no English
    # stopword list
    assert tok.tokens("The Running Models of AI") == ["the", "running", "models", "of", "ai"]


def test_custom_stopwords_and_add_word(tmp_path):
    t = Tokenizer(userdict=None, stopwords={"慈溪"})
    assert "慈溪" not in t.tokens("慈溪的发展")
    t.add_word("宁波帮帮宁波")
    assert "宁波帮帮宁波" in t.words("宁波帮帮宁波发展大会")


def test_part_of_speech_tags_as_jiebas_own_and_words_stay_private(plain_tok):
    import jieba
    import jieba.posseg

    fresh = jieba.posseg.POSTokenizer(jieba.Tokenizer())  # parses the dictionary itself
    for text in (SENTENCE, "宁波市北仑区的常住人口是多少？", "张三在杭州湾新区创办了企业。"):
        assert plain_tok.tagged(text) == [(p.word, p.flag) for p in fresh.cut(text)]
    mine = Tokenizer(userdict=None)
    mine.add_words({"甬江口湿地": "ns"})
    assert mine.tag_of("甬江口湿地") == "ns"
    assert "甬江口湿地" not in jieba.posseg.dt.word_tag_tab
    assert plain_tok.tag_of("甬江口湿地") != "ns"


def test_tokenizer_is_thread_safe(tok):
    want = tok.tokens(SENTENCE)
    results, errors = [], []

    def work():
        try:
            for _ in range(50):
                results.append(tok.tokens(SENTENCE))
        except Exception as exc:  # pragma: no cover - only on failure
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(r == want for r in results)


def test_bm25_uses_jieba_tokens(tok):
    texts = [
        "前湾新区规划面积604平方公里。",
        "慈溪坚持八八战略。",
        "Running models quickly.",
        "农业开发区建成高标准农田。",
    ]
    bm25 = BM25Index(texts, tok)
    scores = bm25.scores("前湾新区有多大？")
    assert scores.dtype == np.float32 and scores.shape == (4,)
    assert scores[0] > 0 and np.all(scores[1:] == 0)
    assert int(np.argmax(bm25.scores("八八战略"))) == 1
    assert bm25.scores("running")[2] > 0
    assert np.all(bm25.scores("run") == 0)  # no stemming
    assert np.all(bm25.scores("是什么？") == 0)  # only stopwords
    assert bm25.idf("前湾新区") < bm25.idf("不存在的词")


def test_bm25_empty_corpus(tok):
    assert BM25Index([], tok).scores("慈溪").shape == (0,)
