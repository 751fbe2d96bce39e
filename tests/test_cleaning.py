"""Repair of converted text: joined sentences, headings, numbering levels, inline Markdown."""

from __future__ import annotations

import pytest

from qa import DEFAULT_CORPUS, chunk_document, read_document
from qa.cleaning import heading_level, numbering_level, repair_text, title_of
from qa.records import Document

CORPUS = DEFAULT_CORPUS
WINDOW = CORPUS / "cixi-important-window-2020.txt"


def test_real_corpus_page_break_is_joined():
    raw = WINDOW.read_text("utf-8")
    assert "累计引进总投资亿\n\n元以上产业项目47个" in raw  # the artefact is really there
    doc = read_document(WINDOW)
    assert "累计引进总投资亿元以上产业项目47个" in doc.text
    assert any("累计引进总投资亿元以上产业项目47个" in c.text for c in chunk_document(doc))


def test_broken_sentence_joined_across_blank_lines():
    raw = (
        "今年以来，慈溪市大力推进重大项目建设和招商引资工作，累计引进总投资亿\n\n"
        "元以上产业项目47个。\n\n下一段从这里开始，内容完整。\n"
    )
    text = repair_text(raw)
    assert text.split("\n") == [
        "今年以来，慈溪市大力推进重大项目建设和招商引资工作，累计引进总投资亿元以上产业项目47个。",
        "下一段从这里开始，内容完整。",
    ]


def test_complete_paragraphs_are_not_joined():
    raw = "第一段是一个完整的句子，它以句号结束，不应该和下一段合并。\n\n第二段也完整。\n"
    assert repair_text(raw).split("\n") == [
        "第一段是一个完整的句子，它以句号结束，不应该和下一段合并。",
        "第二段也完整。",
    ]


def test_one_paragraph_a_line_no_blank_lines():
    raw = "\r\n\r\n标题\r\n\r\n\r\n正文第一句。\r\n\r\n正文第二句。\r\n"
    text = repair_text(raw)
    assert "\r" not in text and "\n\n" not in text
    assert text == "## 标题\n正文第一句。\n正文第二句。"


def test_spaces_between_cjk_and_digits_removed():
    assert repair_text("2018 年 10 月，全市 GDP 增长 8.5 %。") == "2018年10月，全市 GDP 增长8.5 %。"


def test_inline_markdown_reduced_to_text():
    raw = "这是**重点**内容，见[报告](http://x.cn/a)和![图表一](img.png)。\n"
    assert repair_text(raw, markdown=True) == "这是重点内容，见报告和图表一。"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("第一篇 围涂篇", 2),
        ("第二编 总则", 2),
        ("第三章 产业布局", 3),
        ("第十二节 小结", 4),
        ("一、总体情况", 5),
        ("十一、其他", 5),
        ("（一）规模壮大", 6),
        ("(二)结构优化", 6),
        ("1、户籍人口", 7),
        ("12.重点项目", 7),
        ("(1)男性", 8),
        ("（3）女性", 8),
        ("1.5亿元的投资", None),  # a decimal number, not numbering
        ("2018年以来", None),
        ("慈溪市概况", None),
    ],
)
def test_numbering_level(line, level):
    assert numbering_level(line) == level


def test_heading_level_numbering_beats_hash_count():
    assert heading_level("# 第一章 总则") == 3
    assert heading_level("#### 一、总体情况") == 5
    assert heading_level("## 概述") == 2
    assert heading_level("###### 很深") == 4
    assert heading_level("正文") is None


def test_markdown_bold_numbered_lead_becomes_heading():
    raw = "# 报告\n\n## 一、工业\n\n**（一）规模壮大。**全市规上工业总产值达到2450亿元。\n"
    assert repair_text(raw, markdown=True).split("\n") == [
        "# 报告",
        "## 一、工业",
        "#### （一）规模壮大",
        "全市规上工业总产值达到2450亿元。",
    ]


def test_plain_text_headings():
    raw = (
        "慈溪发展报告\n\n第一章 总则\n\n一、基本情况\n\n"
        "（一）人口\n\n全市常住人口一百八十万人。\n\n"
        "一、我们要加强管理。\n\n"  # numbered but a sentence: body text
        "二、" + "很长" * 30 + "\n"  # numbered but too long for a heading: body text
    )
    assert repair_text(raw).split("\n") == [
        "## 慈溪发展报告",
        "#### 第一章 总则",
        "#### 一、基本情况",
        "#### （一）人口",
        "全市常住人口一百八十万人。",
        "一、我们要加强管理。",
        "二、" + "很长" * 30,
    ]


def test_hash_lines_in_plain_text():
    # a short "## X" line is still a heading (plain-heading rule), with the same text
    doc = Document("a.txt", "t", repair_text("## 概述\n\n正文。"))
    assert [(c.section, c.text) for c in chunk_document(doc)] == [(("概述",), "正文。")]


def test_plain_text_body_line_starting_with_hash_stays_body():
    body = "#1号线今日开通，市民纷纷前往体验新线路带来的便捷服务。"
    text = repair_text("慈溪新闻\n\n" + body + "\n\n正文。")
    doc = Document("a.txt", "t", text)
    chunks = chunk_document(doc)
    assert all(c.section == ("慈溪新闻",) for c in chunks)
    assert "1号线今日开通" in "".join(c.text for c in chunks)


def test_title_of():
    assert title_of("# 主标题\n## 副标题\n正文", "fallback") == "主标题"
    assert title_of("## 慈溪\n## 按下快进键\n正文", "fallback") == "慈溪 按下快进键"
    assert title_of("正文开始。", "fallback") == "fallback"


def test_real_corpus_titles():
    assert read_document(WINDOW).title.startswith("慈溪")
    md = read_document(CORPUS / "cixi-88-strategy-papers-2018.md")
    assert md.title == "“八八战略”慈溪实践"


def test_short_last_lines_of_plain_text_are_text_not_headings():
    """A byline or caption at the end of a plain-text file heads nothing: kept as text, so
    it is a passage (撰文 张三 李四), while a short line with text under it stays a heading."""
    raw = "标题\n\n第一段正文，有逗号。\n\n图片说明\n\n撰文 张三 李四\n"
    assert repair_text(raw) == "## 标题\n第一段正文，有逗号。\n图片说明\n撰文 张三 李四"
    doc = Document("a.txt", "t", repair_text(raw))
    assert any("撰文 张三 李四" in c.text for c in chunk_document(doc))
    assert repair_text(raw, markdown=True).endswith("撰文 张三 李四")  # markdown: as written
