"""Chunking: sentences packed into windows, heading paths, overlap, offsets, stable ids."""

from __future__ import annotations

import random

import pytest

from qa import (
    DEFAULT_CORPUS,
    ChunkParams,
    Document,
    chunk_document,
    read_document,
    split_sentences,
)
from qa.chunking import pack_spans, sentence_spans
from qa.cleaning import repair_text

CORPUS = DEFAULT_CORPUS
CORPUS_FILES = sorted(CORPUS.glob("*.*"))


def _doc(raw: str, markdown: bool = True, source: str = "a.md") -> Document:
    return Document(source=source, title="报告", text=repair_text(raw, markdown=markdown))


def _sentences(rng: random.Random, n: int, lo: int = 8, hi: int = 120) -> list[str]:
    chars = "慈溪市工业农业发展项目建设投资企业创新服务改革开放城乡"
    return ["".join(rng.choice(chars) for _ in range(rng.randint(lo, hi))) + "。" for _ in range(n)]


# --- sentences -------------------------------------------------------------------


def test_split_sentences():
    assert split_sentences("第一句。第二句！“第三句？”第四句；没有句号的尾巴") == [
        "第一句。",
        "第二句！",
        "“第三句？”",
        "第四句；",
        "没有句号的尾巴",
    ]


def test_sentence_spans_are_trimmed_offsets():
    text = "  甲乙。 丙丁！\n戊己"
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["甲乙。", "丙丁！", "戊己"]


# --- heading paths -----------------------------------------------------------------


def test_heading_path_markdown_bold_lead():
    raw = (
        "# 慈溪市工业发展报告\n\n## 一、工业发展\n\n"
        "**（一）规模壮大。**全市规上工业总产值达到2450亿元。\n\n"
        "**（二）结构优化。**高新技术产业占比提高到60%。\n\n"
        "## 二、农业发展\n\n农业总产值达到80亿元。\n"
    )
    chunks = chunk_document(_doc(raw))
    title = "慈溪市工业发展报告"
    assert [(c.section, c.text) for c in chunks] == [
        ((title, "一、工业发展", "（一）规模壮大"), "全市规上工业总产值达到2450亿元。"),
        ((title, "一、工业发展", "（二）结构优化"), "高新技术产业占比提高到60%。"),
        ((title, "二、农业发展"), "农业总产值达到80亿元。"),
    ]
    assert chunks[0].section_path == "慈溪市工业发展报告 > 一、工业发展 > （一）规模壮大"


def test_heading_path_plain_text_numbering():
    raw = (
        "第一章 总则\n\n一、基本情况\n\n（一）人口\n\n全市常住人口一百八十万人。\n\n"
        "1、户籍人口\n\n户籍人口一百零五万人。\n\n(1)男性\n\n男性人口五十二万人。\n\n"
        "（二）面积\n\n全市面积一千三百六十平方公里。\n\n"
        "二、经济\n\n地区生产总值两千亿元。\n\n"
        "第二章 展望\n\n未来五年继续发展。\n"
    )
    chunks = chunk_document(_doc(raw, markdown=False, source="a.txt"))
    assert [c.section for c in chunks] == [
        ("第一章 总则", "一、基本情况", "（一）人口"),
        ("第一章 总则", "一、基本情况", "（一）人口", "1、户籍人口"),
        ("第一章 总则", "一、基本情况", "（一）人口", "1、户籍人口", "(1)男性"),
        ("第一章 总则", "一、基本情况", "（二）面积"),  # same level replaces, deeper ones go
        ("第一章 总则", "二、经济"),
        ("第二章 展望",),
    ]


def test_heading_without_body_gives_no_chunk():
    chunks = chunk_document(_doc("# 标题\n\n## 一、空的\n\n## 二、有内容\n\n正文。\n"))
    assert [(c.section, c.text) for c in chunks] == [(("标题", "二、有内容"), "正文。")]


def test_chunks_stay_inside_their_section():
    raw = "# 标题\n\n## 一、甲\n\n甲的第一句。甲的第二句。\n\n## 二、乙\n\n乙的第一句。\n"
    chunks = chunk_document(_doc(raw), ChunkParams(size=300, overlap=60))
    assert [c.text for c in chunks] == ["甲的第一句。甲的第二句。", "乙的第一句。"]


# --- packing -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("size", "overlap"), [(100, 30), (300, 60), (150, 0)])
def test_never_split_mid_sentence_and_progress(seed, size, overlap):
    rng = random.Random(seed)
    sentences = _sentences(rng, 40, hi=size - 5)  # every sentence fits in a chunk
    text = "".join(s + ("\n" if rng.random() < 0.2 else "") for s in sentences)
    doc = Document("r.txt", "t", text)
    chunks = chunk_document(doc, ChunkParams(size, overlap))
    spans = sentence_spans(text)
    starts, ends = {a for a, _ in spans}, {b for _, b in spans}
    for c in chunks:
        assert c.start in starts and c.end in ends, "a chunk cut a sentence"
        assert len(c.text) <= size
    covered = set()
    for c in chunks:
        covered |= {(a, b) for a, b in spans if c.start <= a and b <= c.end}
    assert covered == set(spans), "every sentence is in some chunk"
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.start > prev.start and nxt.end > prev.end, "each chunk adds new text"
        assert prev.end - nxt.start <= overlap, "the repeated text fits in the overlap"


def test_no_chunk_contained_in_the_previous_one():
    # five short sentences, then one that only fits alone: the overlap must not produce
    # a chunk holding nothing but the previous chunk's tail
    spans, pos = [], 0
    for length in [50, 50, 50, 50, 50, 290, 40]:
        spans.append((pos, pos + length))
        pos += length
    windows = pack_spans(spans, 300, 60)
    assert windows == [(0, 250), (250, 540), (540, 580)]


def test_overlap_repeats_trailing_sentences():
    sentences = [f"第{i:02d}句" + "字" * 35 + "。" for i in range(12)]  # 40 chars each
    text = "".join(sentences)
    size, overlap = 200, 90  # 5 sentences a chunk; 2 trailing ones fit in the overlap
    chunks = chunk_document(Document("o.txt", "t", text), ChunkParams(size, overlap))
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:]):
        prev_sents = split_sentences(prev.text)
        nxt_sents = split_sentences(nxt.text)
        tail = []  # brute force: the longest run of trailing sentences within the overlap
        for s in reversed(prev_sents[1:]):
            if sum(map(len, tail)) + len(s) > overlap:
                break
            tail.insert(0, s)
        assert len(tail) == 2
        assert nxt_sents[: len(tail)] == tail
    assert chunk_document(Document("o.txt", "t", text), ChunkParams(size, 0))[1].text.startswith(
        "第05句"
    )


def test_long_sentence_hard_split():
    sentence = "".join(str(i % 10) for i in range(749)) + "。"  # 750 chars, no punctuation
    text = "短句一。" + sentence + "短句二。"
    chunks = chunk_document(Document("l.txt", "t", text), ChunkParams(size=300, overlap=60))
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.text == text[c.start : c.end] for c in chunks)
    # the 750-char sentence is cut at 300 and 600; its tail shares a chunk with the next
    assert [(c.start, c.end) for c in chunks] == [(0, 4), (4, 304), (304, 604), (604, 758)]
    assert "".join(c.text for c in chunks) == text


def test_empty_document_has_no_chunks():
    assert chunk_document(Document("e.txt", "t", "")) == []
    assert chunk_document(Document("e.md", "t", "# 只有标题")) == []


# --- the real corpus ------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_docs():
    return [read_document(p) for p in CORPUS_FILES]


def test_real_corpus_offsets_and_sizes(corpus_docs):
    assert len(corpus_docs) == 2
    params = ChunkParams()
    for doc in corpus_docs:
        chunks = chunk_document(doc, params)
        assert len(chunks) > 5
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert 0 < len(c.text) <= params.size
            assert c.source == doc.source and c.title == doc.title
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_real_corpus_joined_sentence_in_a_chunk(corpus_docs):
    chunks = [c for d in corpus_docs for c in chunk_document(d)]
    assert any("累计引进总投资亿元以上产业项目47个" in c.text for c in chunks)


def test_real_corpus_markdown_sections(corpus_docs):
    md = next(d for d in corpus_docs if d.source.endswith(".md"))
    sections = {c.section for c in chunk_document(md)}
    assert any(s and s[-1].startswith("一、") for s in sections)
    assert any(s and s[-1].startswith(("（一）", "(一)")) for s in sections)


def test_ids_stable_across_runs_and_unique(corpus_docs):
    first = [c.id for d in corpus_docs for c in chunk_document(d)]
    again = [c.id for p in CORPUS_FILES for c in chunk_document(read_document(p))]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in first)


def test_ids_change_with_text_source_and_section():
    raw = "# 标题\n\n## 一、甲\n\n甲的内容。\n\n## 二、乙\n\n乙的内容。\n"
    base = chunk_document(_doc(raw))
    edited = chunk_document(_doc(raw.replace("乙的内容", "乙的新内容")))
    assert base[0].id == edited[0].id
    assert base[1].id != edited[1].id
    renamed = chunk_document(_doc(raw, source="b.md"))
    assert {c.id for c in renamed}.isdisjoint(c.id for c in base)
    moved = chunk_document(_doc(raw.replace("## 一、甲", "## 一、丙")))
    assert moved[0].id != base[0].id and moved[1].id == base[1].id
