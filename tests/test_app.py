"""The Gradio app's handlers, called directly with a fake encoder and a tiny corpus."""

import asyncio
import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest

import app
from embeddings import FakeEncoder
from qa import Assistant, open_index
from qa.serving import services
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
    return assistant


def upload_file(tmp_path, name, data: bytes | str):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


# --- API and page (the chat tab's handlers: test_ui_chat.py) ------------------------


def test_ask_api_is_wired_to_the_shared_assistant(app_assistant):
    out = asyncio.run(app.ask("慈溪有几家国家级单项冠军企业？"))
    assert "3家" in out and "[1]" in out and "report.md" in out
    assert asyncio.run(app.ask_record(UNANSWERABLE))["found"] is False
    assert services(app_assistant).batcher.batches == 2  # both went through the batcher


def test_demo_exposes_only_the_named_ask_endpoints():
    info = app.demo.get_api_info()
    assert sorted(info["named_endpoints"]) == ["/ask", "/ask_record"]
    for name in ("/ask", "/ask_record"):
        params = info["named_endpoints"][name]["parameters"]
        assert [p["parameter_name"] for p in params] == ["question", "history"]
        assert params[1]["parameter_has_default"] is True  # predict("问题") keeps working


def test_queue_is_bounded():
    assert app.demo._queue.max_size == app.QUEUE_SIZE
    assert app.demo._queue.default_concurrency_limit == app.CONCURRENCY


def test_page_shows_model_read_only_and_examples():
    boxes = [b for b in app.demo.blocks.values() if isinstance(b, gr.Textbox)]
    model = [b for b in boxes if b.value == app.MODEL]
    assert model and model[0].interactive is False
    labels = {getattr(b, "label", None) for b in app.demo.blocks.values()}
    assert {"问答", "知识库", "示例问题", "显示来源数"} <= labels


def test_assistant_is_opened_once_for_concurrent_requests(monkeypatch):
    opened = []

    def fake_open(*args, **kwargs):
        time.sleep(0.05)
        opened.append(kwargs)
        return SimpleNamespace(reload_if_changed=lambda: False)

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
