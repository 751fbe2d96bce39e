"""The Gradio app's handlers, called directly with a fake encoder and a tiny corpus."""

import threading
import time

import gradio as gr
import pytest

import app
from embeddings import FakeEncoder
from qa import NOT_FOUND, Assistant, open_index
from qa.render import POSSIBLY_RELATED, SOURCES
from qa.store import load
from qa.text import Tokenizer

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
NEW_DOC = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"
UNANSWERABLE = "火星上有多少人？"


@pytest.fixture(scope="module")
def app_tokenizer():
    """jieba takes a second or two to load: one tokenizer for all these tests."""
    return Tokenizer()


@pytest.fixture
def app_assistant(tmp_path, monkeypatch, app_tokenizer):
    """A fresh assistant on a tiny corpus, installed as the app's shared one."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "evil.md").write_text(EVIL, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    kb = open_index(corpus, tmp_path / "index", FakeEncoder())
    assistant = Assistant(kb, FakeEncoder(), app_tokenizer, index_dir=tmp_path / "index")
    monkeypatch.setattr(app, "_assistant", assistant)
    monkeypatch.setattr(app, "STREAM_DELAY", 0.0)
    return assistant


def chat(message, history=None, max_sources=5):
    """All the states the chat handler streams, and the last one."""
    states = list(app.respond(message, history, max_sources))
    return states, states[-1][0]


def reply(history) -> str:
    assert history[-1]["role"] == "assistant"
    return history[-1]["content"]


def upload_file(tmp_path, name, data: bytes | str):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


# --- chat ---------------------------------------------------------------------------


def test_answer_streams_in_then_shows_cited_sources(app_assistant):
    states, history = chat("慈溪有几家国家级单项冠军企业？")
    assert len(states) >= 4  # placeholder, partial answers, final reply
    assert all(box == "" for _, box in states)  # the text box is cleared
    assert history[0] == {"role": "user", "content": "慈溪有几家国家级单项冠军企业？"}
    partial = [reply(h) for h, _ in states[1:-1]]
    assert all(len(a) <= len(b) for a, b in zip(partial, partial[1:]))
    final = reply(history)
    assert "3家" in final and "<sup><b>[1]</b></sup>" in final
    assert f"**{SOURCES}**" in final and "[1] 慈溪工业报告" in final
    assert "<mark>目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。</mark>" in final
    assert "report.md" in final and "相关度" in final


def test_streaming_takes_under_a_second(app_assistant, monkeypatch):
    monkeypatch.setattr(app, "STREAM_DELAY", 0.04)
    start = time.perf_counter()
    chat("2017年慈溪全市工业总产值是多少？")
    assert time.perf_counter() - start < 1.5  # streaming < 1 s, plus the search itself


def test_number_of_sources_is_a_setting(app_assistant):
    _, one = chat("慈溪有几家国家级单项冠军企业？", max_sources=1)
    _, three = chat("慈溪有几家国家级单项冠军企业？", max_sources=3)
    assert reply(one).count('class="qa-source"') == 1
    assert reply(three).count('class="qa-source"') == 3


def test_refusal_says_so_and_marks_passages(app_assistant):
    _, history = chat(UNANSWERABLE)
    final = reply(history)
    assert final.startswith(NOT_FOUND)
    assert POSSIBLY_RELATED in final and "<mark>" not in final
    assert f"**{SOURCES}**" not in final


def test_follow_up_is_read_with_the_previous_question(app_assistant):
    _, history = chat("2017年慈溪全市工业总产值是多少？")
    assert "4219.2亿元" in reply(history)
    _, history = chat("那2003年呢？", history)
    final = reply(history)
    assert final.startswith("<small>结合上文理解为：2003年慈溪全市工业总产值是多少？</small>")
    assert "1002.8亿元" in final.split("**来源**")[0]
    assert history[-2] == {"role": "user", "content": "那2003年呢？"}


def test_follow_up_with_gradio_message_parts(app_assistant):
    history = [
        {"role": "user", "content": [{"type": "text", "text": "2017年慈溪全市工业总产值是多少？"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "……"}]},
    ]
    _, history = chat("2003年呢？", history)
    assert "1002.8亿元" in reply(history).split("**来源**")[0]


def test_self_contained_question_is_not_rewritten(app_assistant):
    _, history = chat("2017年慈溪全市工业总产值是多少？")
    _, history = chat("慈溪杨梅种植面积是多少？", history)
    final = reply(history)
    assert "理解为" not in final and "五万亩" in final


def test_document_text_is_escaped(app_assistant):
    _, history = chat("防护测试段落写了什么？")
    final = reply(history)
    assert "防护测试段落" in final
    assert "<script" not in final and "<img" not in final
    assert "&lt;script&gt;" in final and "&lt;img" in final


@pytest.mark.parametrize("message", ["", "   ", "\n\t", None])
def test_empty_question_gets_a_prompt(app_assistant, message):
    states, history = chat(message, [{"role": "user", "content": "之前的问题"}])
    assert len(states) == 1
    assert history[-1] == {"role": "assistant", "content": app.EMPTY_PROMPT}
    assert len(history) == 2  # no empty user message


def test_overlong_question_is_refused_on_the_server(app_assistant, monkeypatch):
    monkeypatch.setattr(app_assistant, "ask", lambda *a, **k: pytest.fail("must not search"))
    _, history = chat("慈" * 501)
    assert "问题太长" in reply(history) and "500" in reply(history)
    assert history[-2]["content"].endswith("…") and len(history[-2]["content"]) < 100
    assert "问题太长" in app.ask("慈" * 501)


def test_question_at_the_limit_is_answered(app_assistant):
    _, history = chat("慈溪杨梅种植面积是多少？" + " " * 600)  # spaces are stripped
    assert "五万亩" in reply(history)


# --- API ----------------------------------------------------------------------------


def test_ask_api_returns_markdown_with_sources(app_assistant):
    out = app.ask("慈溪有几家国家级单项冠军企业？")
    assert "3家" in out and "[1]" in out and "<mark>" in out and "report.md" in out
    assert app.ask(UNANSWERABLE).startswith(NOT_FOUND)
    assert app.ask("  ") == "问题为空：请输入一个问题。"


def test_demo_exposes_only_the_named_ask_endpoint():
    info = app.demo.get_api_info()
    assert list(info["named_endpoints"]) == ["/ask"]
    assert info["named_endpoints"]["/ask"]["parameters"][0]["parameter_name"] == "question"


def test_queue_is_bounded():
    assert app.demo._queue.max_size == app.QUEUE_SIZE
    assert app.demo._queue.default_concurrency_limit == app.CONCURRENCY


def test_page_shows_model_read_only_and_examples():
    boxes = [b for b in app.demo.blocks.values() if isinstance(b, gr.Textbox)]
    model = [b for b in boxes if b.value == app.MODEL]
    assert model and model[0].interactive is False
    assert "慈溪有几家国家级单项冠军企业？" in app.EXAMPLES
    labels = {getattr(b, "label", None) for b in app.demo.blocks.values()}
    assert {"问答", "知识库", "示例问题", "显示来源数"} <= labels


def test_assistant_is_opened_once_for_concurrent_requests(monkeypatch):
    opened = []

    def fake_open(*args, **kwargs):
        time.sleep(0.05)
        opened.append(kwargs)
        return object()

    monkeypatch.setattr(app, "_assistant", None)
    monkeypatch.setattr(app.Assistant, "open", fake_open)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(app.get_assistant())) for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1 and len({id(r) for r in results}) == 1
    assert opened[0]["model"] == app.MODEL and opened[0]["progress"] is True


# --- knowledge base -----------------------------------------------------------------


def test_knowledge_base_description(app_assistant):
    table, description, choices = app.knowledge_base()
    assert "**3** 篇文档" in description and "慈溪工业报告" in description
    assert "report.md" in table and "farm.txt" in table
    assert sorted(choices["choices"]) == ["evil.md", "farm.txt", "report.md"]


def test_upload_adds_a_document_that_answers(app_assistant, tmp_path):
    assert not app_assistant.ask("慈溪跨海大桥全长多少公里？").found
    path = upload_file(tmp_path, "bridge.md", NEW_DOC)
    status, table, description, choices, cleared = app.upload([path])
    assert status.startswith("✅ bridge.md：已添加") and cleared is None
    assert "bridge.md" in table and "**4** 篇文档" in description
    assert "bridge.md" in choices["choices"]
    _, history = chat("慈溪跨海大桥全长多少公里？")
    assert "三十六公里" in reply(history) and "bridge.md" in reply(history)


def test_upload_persists_in_the_index(app_assistant, tmp_path):
    app.upload([upload_file(tmp_path, "bridge.md", NEW_DOC)])
    assert "bridge.md" in load(app_assistant.index_dir).sources


def test_upload_same_name_replaces(app_assistant, tmp_path):
    status, *_ = app.upload([upload_file(tmp_path, "farm.txt", NEW_DOC)])
    assert "已替换" in status
    assert not app_assistant.ask("慈溪杨梅种植面积是多少？").found
    assert len(app_assistant.documents()) == 3


def test_upload_of_a_pdf_shows_pages_and_cites_them(app_assistant, tmp_path):
    from benchmarks.render_corpus import FONT, render_text_pdf
    from qa.records import Document

    if not FONT.exists():
        pytest.skip("fonts-wqy-zenhei not installed")
    pdf = tmp_path / "bridge.pdf"
    render_text_pdf(Document("bridge.md", "跨海大桥", NEW_DOC.replace("\n\n", "\n")), pdf)
    status, *_ = app.upload([upload_file(tmp_path, "bridge.pdf", pdf.read_bytes())])
    assert status.startswith("✅ bridge.pdf：已添加，1 页，") and "个段落" in status
    answer = app_assistant.ask("慈溪跨海大桥全长多少公里？")
    assert answer.citations[0].source == "bridge.pdf"
    assert (answer.citations[0].page, answer.citations[0].location) == (1, "第 1 页")


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("virus.exe", b"MZ\x00\x00", "不支持的文件类型"),
        ("report.pdf", b"%PDF-1.4", "文件已损坏或不是有效的 PDF 文件"),
        ("noext", "文本", "不支持的文件类型"),
        ("empty.txt", b"", "文件是空的"),
        ("binary.txt", b"\x00\x01\x02" * 100, "无法读取"),
        ("spaces.md", "   \n\n  ", "无法读取"),
    ],
)
def test_bad_uploads_are_reported_and_change_nothing(app_assistant, tmp_path, name, data, message):
    before = app_assistant.documents()
    status, *_ = app.upload([upload_file(tmp_path, name, data)])
    assert status.startswith(f"❌ {name}") and message in status
    assert app_assistant.documents() == before


def test_oversized_upload_is_refused(app_assistant, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "MAX_UPLOAD_BYTES", 100)
    status, *_ = app.upload([upload_file(tmp_path, "big.txt", "慈溪" * 100)])
    assert "文件太大" in status and f"上限 {app.MAX_UPLOAD_MB} MB" in status
    assert "big.txt" not in {d["source"] for d in app_assistant.documents()}


def test_one_bad_file_does_not_stop_the_others(app_assistant, tmp_path):
    files = [upload_file(tmp_path, "bad.exe", b"x"), upload_file(tmp_path, "bridge.md", NEW_DOC)]
    status, *_ = app.upload(files)
    assert "❌ bad.exe" in status and "✅ bridge.md" in status
    assert "bridge.md" in {d["source"] for d in app_assistant.documents()}


def test_upload_limits_the_number_of_files(app_assistant, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "MAX_UPLOAD_FILES", 1)
    files = [upload_file(tmp_path, f"d{i}.md", NEW_DOC + str(i)) for i in range(3)]
    status, *_ = app.upload(files)
    assert "一次最多上传 1 个文件" in status
    assert len(app_assistant.documents()) == 4


def test_upload_without_files_prompts(app_assistant):
    for nothing in (None, []):
        status, *_ = app.upload(nothing)
        assert status == "请先选择要上传的文件。"


def test_upload_name_is_escaped(app_assistant, tmp_path):
    name = "<img src=x onerror=alert(1)>.exe"
    status, *_ = app.upload([upload_file(tmp_path, name, b"x")])
    assert "<img" not in status and "&lt;img" in status


def test_remove_takes_the_document_out_of_the_index(app_assistant):
    assert app_assistant.ask("慈溪杨梅种植面积是多少？").found
    vectors = app_assistant.kb.index.ntotal
    status, table, description, choices = app.remove("farm.txt")
    assert status.startswith("🗑️ 已删除 farm.txt") and "farm.txt" not in table
    assert "farm.txt" not in choices["choices"] and "**2** 篇文档" in description
    assert not app_assistant.ask("慈溪杨梅种植面积是多少？").found
    assert app_assistant.kb.index.ntotal == vectors - 1
    assert "farm.txt" not in load(app_assistant.index_dir).sources


def test_remove_nothing_or_unknown(app_assistant):
    assert app.remove(None)[0] == "请先选择要删除的文档。"
    assert app.remove("nope.md")[0] == "知识库中没有文档 nope.md。"
    assert len(app_assistant.documents()) == 3
