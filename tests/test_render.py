"""Rendering answers and sources: safe Markdown, highlights, refusal marking."""

import html
import re

import pytest
from markdown_it import MarkdownIt

from qa import NOT_FOUND, Answer, Citation
from qa.render import (
    POSSIBLY_RELATED,
    SOURCES,
    answer_text,
    describe_knowledge_base,
    escape,
    highlight,
    render_answer,
    render_documents,
    shown_citations,
)

ATTACKS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "![img](javascript:alert(1))",
    "<a href='javascript:alert(1)'>点我</a>",
    "[x]: javascript:alert(1)\n\n[x]",
    "<https://evil.example>",
    "`code` **bold** _it_ ~~del~~ $$x$$",
    "# 标题\n- 列表\n1. 列表\n> 引用",
    "</div></div><script>alert(1)</script>",
    "&lt;script&gt; already escaped",
    "line\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
]
# Our own markup: anything else in the rendered HTML came from document text.
OWN_TAGS = {"div", "b", "br", "small", "mark", "sup", "p", "strong", "table", "thead", "tbody"}
OWN_TAGS |= {"tr", "th", "td", "ul", "li"}

md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def tags(markdown: str) -> set[str]:
    """Tag names in the HTML a Markdown renderer (with raw HTML allowed) makes of it."""
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", md.render(markdown)))


def visible_text(markdown: str) -> str:
    """What a reader sees: the rendered HTML without tags, entities decoded."""
    rendered = md.render(markdown).replace("<br>", "\n")
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def citation(n=1, text="慈溪有国家级单项冠军3家。其他内容。", highlights=((0, 13),), **kw):
    defaults = dict(source="a.md", title="报告", section="第一章 > 一、", score=0.8766)
    return Citation(n=n, text=text, highlights=highlights, **(defaults | kw))


def answer(found=True, citations=None, text="慈溪有国家级单项冠军3家。[1]"):
    citations = citations if citations is not None else (citation(),)
    return Answer("问题", text if found else NOT_FOUND, found, tuple(citations), "问题")


@pytest.mark.parametrize("attack", ATTACKS)
def test_escaped_text_makes_no_markup_and_reads_as_written(attack):
    out = escape(attack)
    assert "<" not in out.replace("<br>", "")
    assert tags(out) <= {"p", "br"}
    assert visible_text(out).strip() == attack


@pytest.mark.parametrize("attack", ATTACKS)
def test_documents_cannot_inject_anything_anywhere(attack):
    c = citation(text=f"前文{attack}后文", title=attack, section=attack, source=attack)
    ans = Answer("q", f"{attack}[1]", True, (c,), "q")
    rendered = render_answer(ans, note=attack)
    rendered += render_documents([{"source": attack, "title": attack, "chunks": 1}])
    rendered += describe_knowledge_base([{"source": attack, "title": attack, "chunks": 1}])
    assert tags(rendered) <= OWN_TAGS
    attributes = re.findall(r"<[a-z]+\s([^>]*)>", md.render(rendered))
    assert set(attributes) <= {
        'class="qa-source"',
        'class="qa-passage"',
        'style="text-align:right"',
    }
    assert attack.split("\n")[0] in visible_text(rendered)  # shown as text


def test_escape_keeps_chinese_and_numbers_readable():
    assert escape("2017年总产值4219.2亿元（增长8%）") == "2017年总产值4219.2亿元（增长8%）"
    assert escape("1. 列表") == "1&#46; 列表" and escape("# 标题") == "&#35; 标题"
    assert visible_text(escape("2017年")).strip() == "2017年"
    assert escape("a\nb") == "a<br>b"
    assert "\n\n" not in escape("a\n\n\nb")


def test_highlight_marks_the_used_sentences():
    text = "第一句。第二句<b>。第三句。"
    out = highlight(text, [(4, 11)])
    assert out == "第一句。<mark>第二句&lt;b&gt;。</mark>第三句。"
    assert highlight(text, []) == escape(text)


def test_highlight_survives_odd_spans():
    text = "甲乙丙丁戊"
    assert highlight(text, [(3, 99), (0, 2), (1, 3)]) == "<mark>甲乙</mark><mark>丙</mark>" + (
        "<mark>丁戊</mark>"
    )
    assert highlight(text, [(4, 2)]) == text


def test_answer_text_bolds_markers_of_existing_sources_only():
    assert answer_text("有3家。[1]", [1]) == "有3家。<sup><b>[1]</b></sup>"
    assert "[7]" not in answer_text("有3家。[7]", [1])  # not a source: shown as text
    assert visible_text(answer_text("有3家。[7]", [1])).strip() == "有3家。[7]"


def test_render_answer_with_sources():
    out = render_answer(answer())
    assert out.startswith("慈溪有国家级单项冠军3家。<sup><b>[1]</b></sup>")
    assert f"**{SOURCES}**" in out
    assert "[1] 报告" in out and "第一章 &gt; 一、" in out and "a.md" in out
    assert "相关度 0.877" in out
    assert "<mark>慈溪有国家级单项冠军3家。</mark>其他内容。" in out
    assert POSSIBLY_RELATED not in out


def test_render_refusal_marks_passages_as_possibly_related():
    c = citation(highlights=())
    out = render_answer(answer(found=False, citations=[c]))
    assert out.startswith(NOT_FOUND)
    assert f"**{POSSIBLY_RELATED}**" in out
    assert SOURCES not in out.replace(POSSIBLY_RELATED, "")
    assert "<mark>" not in out


def test_render_refusal_without_passages_is_just_the_reply():
    assert render_answer(answer(found=False, citations=[])) == NOT_FOUND


def test_note_is_shown_first_and_escaped():
    out = render_answer(answer(), note="结合上文理解为：<b>2003年</b>")
    assert out.startswith("<small>结合上文理解为：&lt;b&gt;2003年&lt;/b&gt;</small>\n\n")


def test_max_sources_keeps_cited_ones():
    cs = [citation(n=i, highlights=()) for i in range(1, 6)]
    ans = answer(citations=cs, text="答案。[4]")
    assert [c.n for c in shown_citations(ans, 2)] == [1, 2, 4]
    assert [c.n for c in shown_citations(ans)] == [1, 2, 3, 4, 5]
    assert [c.n for c in shown_citations(ans, 0)] == [4]
    assert render_answer(ans, 2).count('class="qa-source"') == 3


def test_no_blank_line_inside_a_source_block():
    c = citation(text="第一段。\n\n第二段。\r\n\r\n第三段。")
    block = render_answer(answer(citations=[c])).split(f"**{SOURCES}**\n\n")[1]
    assert "\n\n" not in block


def test_documents_table_and_description():
    docs = [
        {"source": "a|b.md", "title": "标题", "chunks": 3},
        {"source": "c.txt", "title": "丙", "chunks": 2},
    ]
    table = render_documents(docs)
    assert table.count("\n") == 3 and "a&#124;b.md" in table
    assert "<table>" in md.render(table) and md.render(table).count("<tr>") == 3
    text = describe_knowledge_base(docs)
    assert "**2** 篇文档" in text and "**5** 个段落" in text and "标题（3 段）" in text
    assert render_documents([]) == "知识库中还没有文档。"
