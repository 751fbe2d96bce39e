"""The chat tab's handlers and the API functions, called directly with a fake encoder and a
tiny corpus (the page itself is driven in test_browser.py)."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace

import gradio as gr
import pytest

from embeddings import FakeEncoder
from qa import NOT_FOUND, Assistant, open_index
from qa.assistant import HISTORY_MESSAGE
from qa.feedback import feedback_path, read_feedback
from qa.microbatch import BUSY_MESSAGE, MicroBatcher
from qa.render import POSSIBLY_RELATED, SOURCES, ref
from qa.text import Tokenizer
from qa.ui_chat import (
    ANSWER_FAILED,
    EMPTY_PROMPT,
    PENDING,
    ChatHandlers,
    api_functions,
    build_chat_tab,
)

REPORT = """# 慈溪工业报告

## 工业规模

2017年全市工业总产值达到4219.2亿元，比上年增长8%。2003年全市工业总产值为1002.8亿元。

## 企业梯队

目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。上市企业总数达到10家。
"""
EVIL = """# 防护测试文档

防护测试段落：<script>alert(1)</script>以及<img src=x onerror="alert(1)">都应原样显示。
"""
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
UNANSWERABLE = "火星上有多少人？"
CHAMPIONS = "慈溪有几家国家级单项冠军企业？"
HTML = re.compile(r"(?<!\\)<")  # an unescaped "<"


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


@pytest.fixture
def engine(tmp_path, tokenizer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "evil.md").write_text(EVIL, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    kb = open_index(corpus, tmp_path / "index", FakeEncoder())
    return Assistant(kb, FakeEncoder(), tokenizer, index_dir=tmp_path / "index")


@pytest.fixture
def handlers(engine):
    return ChatHandlers(lambda: engine)


def chat(handlers, message, history=None, answers=None, max_sources=5, chosen=None):
    """All the states the chat handler yields, and the last one."""
    states = list(handlers.respond(message, history, answers, max_sources, chosen))
    return states, states[-1]


def reply(history) -> str:
    assert history[-1]["role"] == "assistant"
    return history[-1]["content"]


def test_reply_shows_the_answer_first_and_the_evidence_beside(handlers):
    states, (history, box, answers, evidence) = chat(handlers, CHAMPIONS)
    assert len(states) == 2 and reply(states[0][0]) == PENDING  # placeholder, then the reply
    assert all(state[1] == "" for state in states)  # the text box is cleared
    assert history[0] == {"role": "user", "content": CHAMPIONS}
    final = reply(history)
    assert final.startswith('<div class="qa-reply qa-turn-0">')
    assert "3家" in final.split('class="qa-chips"')[0] and ref(1) in final
    assert "&#91;1&#93; 慈溪工业报告" in final  # the chip
    assert len(answers) == 1 and answers[0].question == CHAMPIONS
    assert f">{SOURCES}<" in evidence and "qa-ev-active qa-turn-0" in evidence
    assert "<mark>目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。</mark>" in evidence
    assert "report.md" in evidence and "相关度" in evidence
    assert "<mark>" not in final  # passages live in the evidence panel, not the chat


def test_number_of_sources_is_a_setting(handlers):
    _, (history, _, _, evidence) = chat(handlers, CHAMPIONS, max_sources=1)
    assert evidence.count('class="qa-source"') == 1 and reply(history).count("qa-chip ") == 1
    _, (_, _, _, evidence) = chat(handlers, CHAMPIONS, max_sources=3)
    assert evidence.count('class="qa-source"') == 3


def test_refusal_says_so_and_marks_passages(handlers):
    _, (history, _, answers, evidence) = chat(handlers, UNANSWERABLE)
    assert NOT_FOUND in reply(history) and "原因：" in reply(history)
    assert not answers[0].found
    assert POSSIBLY_RELATED in evidence and "<mark>" not in evidence
    assert f">{SOURCES}<" not in evidence


def test_follow_up_is_read_with_the_previous_question(handlers):
    _, (history, _, answers, _) = chat(handlers, "2017年慈溪全市工业总产值是多少？")
    assert "4219.2亿元" in reply(history)
    _, (history, _, answers, evidence) = chat(handlers, "那2003年呢？", history, answers)
    final = reply(history)
    assert "结合上文理解为：2003年慈溪全市工业总产值是多少？" in final
    assert "1002.8亿元" in final and "qa-turn-1" in final
    assert history[-2] == {"role": "user", "content": "那2003年呢？"}
    assert len(answers) == 2 and evidence.count('class="qa-ev ') == 2
    assert "qa-ev-active qa-turn-1" in evidence


def test_document_filter_limits_retrieval_and_says_so(handlers):
    _, (history, _, answers, _) = chat(handlers, CHAMPIONS, chosen=["farm.txt", "evil.md"])
    assert "仅在 2 篇文档中检索" in reply(history)
    assert {c.source for c in answers[0].citations} <= {"farm.txt", "evil.md"}
    _, (history, _, _, _) = chat(handlers, CHAMPIONS, chosen=[])
    assert "仅在" not in reply(history)  # nothing ticked: all documents


def test_document_text_is_escaped(handlers):
    _, (history, _, _, evidence) = chat(handlers, "防护测试段落写了什么？")
    shown = reply(history) + evidence
    assert "防护测试段落" in shown
    assert "<script" not in shown and "<img" not in shown
    assert "&lt;script&gt;" in evidence and "&lt;img" in evidence


@pytest.mark.parametrize("message", ["", "   ", "\n\t", None])
def test_empty_question_gets_a_prompt(handlers, message):
    states, (history, *_) = chat(handlers, message, [{"role": "user", "content": "之前的问题"}])
    assert len(states) == 1
    assert history[-1] == {"role": "assistant", "content": EMPTY_PROMPT}
    assert len(history) == 2  # no empty user message


def test_overlong_question_is_refused_on_the_server_and_kept_in_the_box(handlers, engine):
    engine.ask = lambda *a, **k: pytest.fail("must not search")
    message = "慈" * 600
    _, (history, box, answers, _) = chat(handlers, message)
    assert "问题太长（600 字）" in reply(history) and "500" in reply(history)
    assert history[-2]["content"].endswith("…") and len(history[-2]["content"]) < 100
    assert box == message and answers == []  # nothing silently cut: the user can shorten it


def test_engine_failure_is_a_message_not_a_traceback(handlers, engine):
    def broken(*args, **kwargs):
        raise RuntimeError("index gone")

    engine.ask = broken
    _, (history, box, answers, _) = chat(handlers, CHAMPIONS)
    assert reply(history) == ANSWER_FAILED and box == CHAMPIONS and answers == []


def test_question_at_the_limit_is_answered(handlers):
    _, (history, *_) = chat(handlers, "慈溪杨梅种植面积是多少？" + " " * 600)  # stripped
    assert "五万亩" in reply(history)


def test_download_is_the_conversation_as_markdown(handlers):
    _, (history, _, answers, _) = chat(handlers, CHAMPIONS)
    _, (history, _, answers, _) = chat(handlers, UNANSWERABLE, history, answers)
    request = SimpleNamespace(session_hash="../../etc")  # the client chooses it
    assert handlers.download([], request) is None
    path = handlers.download(answers, request)
    assert ".." not in path and path.endswith("慈溪资料问答-对话记录.md")
    text = open(path, encoding="utf-8").read()
    assert text.startswith("# 慈溪资料问答：对话记录")
    assert f"## 1. {CHAMPIONS}" in text and "## 2. " in text
    assert "**来源**" in text and POSSIBLY_RELATED in text and not HTML.search(text)


def test_feedback_is_recorded_beside_the_index(handlers, engine):
    _, (_, _, answers, _) = chat(handlers, CHAMPIONS)
    status, comment = handlers.feedback("0:wrong", "数字不对", answers)
    assert status.startswith("已记录：答案有误") and comment == ""
    status, _ = handlers.feedback("0:helpful", "", answers)  # a visitor's: a vote, no gold
    assert status.startswith("已记录：有帮助")
    signed_in = SimpleNamespace(session_hash="s")
    editors = ChatHandlers(
        handlers.get_assistant, editor_of=lambda r: "王编辑" if r is signed_in else None
    )
    status, _ = editors.feedback("0:helpful", "", answers, signed_in)
    assert status.startswith("已记录：有帮助")
    rows = read_feedback(feedback_path(engine.index_dir))
    assert [r["verdict"] for r in rows] == ["wrong", "helpful", "helpful"]
    assert rows[0]["comment"] == "数字不对" and rows[0]["question"] == CHAMPIONS
    assert rows[0]["citations"][0]["source"] == "report.md"
    assert rows[1]["by"] == "" and "answers" not in rows[1]
    assert rows[2]["by"] == "王编辑" and rows[2]["answers"]
    for bad in ("", "5:wrong", "0:maybe", "x:wrong"):
        status, kept = handlers.feedback(bad, "意见", answers)
        assert "请点击" in status and kept == "意见"
    status, kept = handlers.feedback("0:wrong", "慈" * 501, answers)
    assert "意见太长" in status and kept == "慈" * 501
    assert len(read_feedback(feedback_path(engine.index_dir))) == 3


def test_filter_choices_are_the_documents(handlers):
    update, description = handlers.documents()
    assert ("慈溪工业报告（report.md）", "report.md") in update["choices"]
    assert "**3** 篇文档" in description


def sync(fn):
    """An async API function, called as a client would see it."""
    return lambda *args: asyncio.run(fn(*args))


@pytest.mark.parametrize("batched", [False, True])
def test_ask_api_returns_markdown_with_sources(engine, batched):
    batcher = MicroBatcher(engine.ask_many) if batched else None
    ask, _ = map(sync, api_functions(lambda: engine, None, (lambda: batcher) if batched else None))
    out = ask(CHAMPIONS)
    assert "3家" in out and "[1]" in out and "report.md" in out and "**来源**" in out
    assert not HTML.search(out)  # Markdown, no HTML: document text's "<" is escaped
    assert ask(UNANSWERABLE).startswith(NOT_FOUND)
    assert ask("  ") == "问题为空：请输入一个问题。"
    assert "问题太长" in ask("慈" * 501)
    assert "1002.8亿元" in ask("那2003年呢？", ["2017年慈溪全市工业总产值是多少？"])
    if batcher:
        assert batcher.batches == 3  # the bad questions never reached it
        batcher.close()


def test_ask_record_api_returns_the_answer_record(engine):
    _, ask_record = map(sync, api_functions(lambda: engine))
    record = ask_record(CHAMPIONS)
    assert record["found"] is True and "3家" in record["answer"]
    assert {"short_answer", "confidence", "reason", "citations"} <= set(record)
    assert {"page", "location", "highlights"} <= set(record["citations"][0])
    json.dumps(record, ensure_ascii=False)
    assert ask_record("")["error"] == "问题为空：请输入一个问题。"
    # a client's history given as one string is one earlier question, not its characters
    alone = ask_record("那2003年呢？", ["2017年慈溪全市工业总产值是多少？"])
    assert ask_record("那2003年呢？", "2017年慈溪全市工业总产值是多少？") == alone
    assert ask_record(CHAMPIONS, 7) == {"error": HISTORY_MESSAGE}


def test_a_full_batcher_is_a_busy_message_not_an_error(engine):
    batcher = MicroBatcher(engine.ask_many, max_waiting=0)
    ask, ask_record = map(sync, api_functions(lambda: engine, None, lambda: batcher))
    assert ask(CHAMPIONS) == BUSY_MESSAGE
    assert ask_record(CHAMPIONS) == {"error": BUSY_MESSAGE, "busy": True}
    handlers = ChatHandlers(lambda: engine, get_batcher=lambda: batcher)
    *_, (chat, box, answers, _) = handlers.respond(CHAMPIONS, [], [])
    assert chat[-1]["content"] == BUSY_MESSAGE and box == CHAMPIONS and answers == []
    batcher.close()


def test_chat_questions_go_through_the_batcher_with_their_filter(engine):
    batcher = MicroBatcher(engine.ask_many)
    handlers = ChatHandlers(lambda: engine, get_batcher=lambda: batcher)
    *_, (_, _, answers, _) = handlers.respond(CHAMPIONS, [], [], 3, ["report.md"])
    assert "3家" in answers[0].answer and batcher.batches == 1
    *_, (_, _, answers, _) = handlers.respond(CHAMPIONS, [], [], 3, ["farm.txt"])
    assert not answers[-1].found, "the filter travelled with the question"
    batcher.close()


def test_tab_builds_with_chinese_labels_and_no_length_cut(engine):
    with gr.Blocks() as demo:
        with gr.Tabs():
            build_chat_tab(demo, lambda: engine, "fake")
    boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Textbox)]
    question = next(b for b in boxes if b.elem_id == "qa-question")
    assert question.max_length is None  # the server explains over-long questions
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"问答", "示例问题", "显示来源数", "问题"} <= labels
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.show_label is False  # no 对话 label over the first line
