"""Rendering answers and sources: safe HTML for the page, Markdown and plain text for the
API, clipboard and download; highlights, refusal marking."""

import html
import re
from dataclasses import replace

import pytest
from markdown_it import MarkdownIt

from qa import NOT_FOUND, Answer, Citation
from qa.render import (
    CONVERSATION_TITLE,
    EVIDENCE_EMPTY,
    POSSIBLY_RELATED,
    REFUSAL_FALLBACK,
    SOURCES,
    answer_markdown,
    answer_plain,
    answer_text,
    chip_label,
    conversation_markdown,
    describe_knowledge_base,
    escape,
    evidence_html,
    evidence_turn,
    highlight,
    md_escape,
    place,
    ref,
    render_documents,
    reply_html,
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
OWN_TAGS |= {"tr", "th", "td", "ul", "li", "span"}
MD_TAGS = {"p", "strong", "blockquote", "br", "h1", "h2"}  # what our Markdown renders to

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
    c = replace(c, location=attack)
    ans = Answer("q", f"{attack}[1]", True, (c,), "q", short_answer=attack)
    refusal = Answer(attack, NOT_FOUND, False, (c,), attack, reason=attack)
    rendered = reply_html(ans, 0, notes=[attack]) + reply_html(refusal, 1)
    rendered += evidence_html([ans, refusal])
    rendered += render_documents([{"source": attack, "title": attack, "chunks": 1}])
    rendered += describe_knowledge_base([{"source": attack, "title": attack, "chunks": 1}])
    assert tags(rendered) <= OWN_TAGS
    attributes = set(re.findall(r"<[a-z]+\s([^>]*)>", md.render(rendered)))
    own = re.compile(r'(class="qa-[a-z0-9 -]+"|id="qa-src-\d+-\d+"|role="button"|tabindex="0"| )+')
    assert all(own.fullmatch(a) or a == 'style="text-align:right"' for a in attributes)
    assert attack.split("\n")[0] in visible_text(rendered)  # shown as text


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_output_makes_no_markup_from_documents(attack):
    c = citation(text=f"前文{attack}后文", title=attack, section=attack, source=attack)
    ans = Answer(attack, f"{attack}[1]", True, (c,), attack)
    out = answer_markdown(ans) + conversation_markdown([ans])
    rendered = md.render(out)
    assert set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered)) <= MD_TAGS
    assert "<img" not in rendered and "<a " not in rendered
    assert attack.split("\n")[0].strip() in visible_text(out).replace("\n", "")


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


def test_answer_text_makes_markers_of_existing_sources_clickable():
    assert answer_text("有3家。[1]", [1]) == f"有3家。{ref(1)}"
    assert 'class="qa-ref qa-n-1"' in ref(1)
    assert "[7]" not in answer_text("有3家。[7]", [1])  # not a source: shown as text
    assert visible_text(answer_text("有3家。[7]", [1])).strip() == "有3家。[7]"


def test_reply_says_the_short_answer_first_then_quotes_the_sentence():
    ans = replace(answer(text="国家级单项冠军3家[1]"), short_answer="3家")
    out = reply_html(ans, 4, notes=["结合上文理解为：<b>慈溪</b>", ""])
    assert out.startswith('<div class="qa-reply qa-turn-4">')
    assert '<small class="qa-note">结合上文理解为：&lt;b&gt;慈溪&lt;/b&gt;</small>' in out
    assert out.index('<b class="qa-short">3家</b>') < out.index('class="qa-quote"')
    assert f"“慈溪有国家级单项冠军3家。{ref(1)}”" in out
    assert '<span class="qa-chip qa-n-1" role="button" tabindex="0">&#91;1&#93; 报告</span>' in out
    assert "答案有误" in out and "有帮助" in out and "复制" in out
    assert "\n" not in out  # one HTML block for the chat's Markdown


def test_reply_without_short_answer_bolds_the_answer_and_does_not_repeat_it():
    out = reply_html(answer(), 0)
    assert f'<b class="qa-short">慈溪有国家级单项冠军3家。{ref(1)}</b>' in out
    assert "qa-quote" not in out  # the quoted sentence would be the answer again


def test_chips_show_title_and_page():
    c = citation(title="慈溪市二〇二〇年政府工作报告全文", page=6)
    assert chip_label(c) == "[1] 慈溪市二〇二〇年政府工作报… · 第 6 页"
    assert chip_label(replace(c, page_end=7)) == "[1] 慈溪市二〇二〇年政府工作报… · 第 6–7 页"
    assert chip_label(replace(c, location="Sheet1 第 12 行")).endswith("· Sheet1 第 12 行")
    assert chip_label(citation()) == "[1] 报告"
    assert place(citation()) == ""


def test_refusal_reply_gives_the_reason_and_marks_chips_possibly_related():
    ans = replace(answer(found=False, citations=[citation(highlights=())]), reason="没有市长")
    out = reply_html(ans, 0)
    assert f'<b class="qa-short">{NOT_FOUND}</b>' in out and "原因：没有市长" in out
    assert "可能相关：" in out and "qa-quote" not in out
    assert "原因：" + REFUSAL_FALLBACK in reply_html(answer(found=False), 0)
    said = Answer("问题", NOT_FOUND + "没有市长", False, (), reason="没有市长")
    out = reply_html(said, 0)  # the reason is said once, on its own line
    assert f'<b class="qa-short">{NOT_FOUND}</b>' in out and "原因：没有市长" in out
    panel = evidence_turn(said, 0)  # and once in the evidence panel too
    assert panel.count("没有市长") == 1 and f'qa-ev-refusal">{NOT_FOUND}<' in panel


def test_evidence_panel_shows_the_newest_reply_with_highlights():
    cs = [citation(n=1, page=6), citation(n=2, highlights=(), title="另一篇")]
    first, second = answer(citations=cs), answer(found=False, citations=cs)
    out = evidence_html([first, second])
    assert out.count('class="qa-ev ') == 2 and out.count("qa-ev-active") == 1
    assert '<div class="qa-ev qa-ev-active qa-turn-1">' in out
    assert 'id="qa-src-0-1"' in out and 'id="qa-src-1-2"' in out
    turn = evidence_turn(first, 0)
    assert "问：问题" in turn and f">{SOURCES}<" in turn and POSSIBLY_RELATED not in turn
    assert "<mark>慈溪有国家级单项冠军3家。</mark>其他内容。" in turn
    assert "第一章 &gt; 一、 · 第 6 页 · a.md · 相关度 0.877" in turn
    refused = evidence_turn(second, 1)
    assert refused.index(f'qa-related">{POSSIBLY_RELATED}') > refused.index("原因：")
    assert EVIDENCE_EMPTY in evidence_html([])
    assert "没有可显示的段落" in evidence_turn(answer(found=False, citations=[]), 0)


def test_max_sources_keeps_cited_ones():
    cs = [citation(n=i, highlights=()) for i in range(1, 6)]
    ans = answer(citations=cs, text="答案。[4]")
    assert [c.n for c in shown_citations(ans, 2)] == [1, 2, 4]
    assert [c.n for c in shown_citations(ans)] == [1, 2, 3, 4, 5]
    assert [c.n for c in shown_citations(ans, 0)] == [4]
    assert evidence_turn(ans, 0, 2).count('class="qa-source"') == 3
    assert reply_html(ans, 0, 2).count('class="qa-chip ') == 3


def test_a_refusals_possibly_related_passages_are_the_best_scores_first():
    scores = [0.845, 0.909, 0.809, 0.806, 0.854]  # as the engine orders a refusal's passages
    cs = [citation(n=i, highlights=(), score=s, title=f"文{i}") for i, s in enumerate(scores, 1)]
    refusal = answer(found=False, citations=cs)
    shown = shown_citations(refusal, 3)
    assert [c.score for c in shown] == [0.909, 0.854, 0.845] and [c.n for c in shown] == [1, 2, 3]
    assert [c.title for c in shown] == ["文2", "文5", "文1"]
    panel = evidence_turn(refusal, 0, 3)
    shown_scores = [float(x) for x in re.findall(r"相关度 ([0-9.]+)", panel)]
    assert shown_scores == sorted(shown_scores, reverse=True) == [0.909, 0.854, 0.845]
    assert panel.index("[1] 文2") < panel.index("[2] 文5") < panel.index("[3] 文1")
    chips = html.unescape(reply_html(refusal, 0, 3))
    assert chips.index("[1] 文2") < chips.index("[2] 文5") < chips.index("[3] 文1")
    assert "[1] **文2**" in answer_markdown(refusal, 3) and "[1] 文2" in answer_plain(refusal, 3)
    found = answer(citations=cs)  # an answer keeps the engine's order: its passage first
    assert [c.n for c in shown_citations(found, 3)] == [1, 2, 3]


def test_no_blank_line_inside_the_html():
    c = citation(text="第一段。\n\n第二段。\r\n\r\n第三段。")
    assert "\n" not in evidence_html([answer(citations=[c])]) + reply_html(answer(), 0)


def test_markdown_answer_has_markers_and_numbered_sources_without_html():
    out = answer_markdown(answer(citations=[citation(page=6), citation(n=2, highlights=())]))
    assert out.startswith("慈溪有国家级单项冠军3家。[1]\n\n**来源**\n\n")
    assert "[1] **报告** · 第一章 \\> 一、 · 第 6 页 · a.md" in out
    assert "> **慈溪有国家级单项冠军3家。**其他内容。" in out and "[2] **报告**" in out
    assert "<" not in out.replace("\\<", "")
    refusal = answer_markdown(replace(answer(found=False), reason="资料只到2020年"))
    assert refusal.startswith(f"{NOT_FOUND}\n\n原因：资料只到2020年\n\n**{POSSIBLY_RELATED}**")
    assert answer_markdown(answer(found=False, citations=[])).startswith(NOT_FOUND)


def test_md_escape_keeps_text_readable():
    assert md_escape("2017年总产值4219.2亿元（增长8%）") == "2017年总产值4219.2亿元（增长8%）"
    assert md_escape("1. 列表") == "1\\. 列表" and md_escape("# 标题") == "\\# 标题"
    assert md_escape("[1](x)") == "\\[1\\]\\(x\\)"
    assert visible_text(md_escape("a <b>&amp; [1]")).strip() == "a <b>&amp; [1]"


def test_plain_text_for_the_clipboard():
    cs = [citation(page=6), citation(n=2, highlights=(), title="另一篇", section="")]
    out = answer_plain(answer(citations=cs))
    assert out == (
        "慈溪有国家级单项冠军3家。[1]\n\n来源：\n"
        "[1] 报告 · 第一章 > 一、 · 第 6 页：“慈溪有国家级单项冠军3家。”\n[2] 另一篇"
    )
    copy = reply_html(answer(citations=cs), 0).split('<span class="qa-copytext">')[1]
    assert html.unescape(copy.split("</span>")[0]) == out


def test_conversation_download_lists_each_question_with_its_sources():
    out = conversation_markdown([answer(), answer(found=False)])
    assert out.startswith(f"# {CONVERSATION_TITLE}\n\n## 1. 问题\n\n慈溪有国家级单项冠军3家。[1]")
    assert "## 2. 问题" in out and POSSIBLY_RELATED in out and out.endswith("\n")


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
