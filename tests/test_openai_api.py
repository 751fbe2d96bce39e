"""Our /v1/chat/completions and /v1/models, served by uvicorn on a free port and called
with the official ``openai`` client (streaming and not), extractive and LLM mode."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from embeddings import FakeEncoder
from qa import NOT_FOUND, Assistant, open_index
from qa.answerers import ExtractiveAnswerer, LLMAnswerer
from qa.llm_client import LLMClient, LLMConfig
from qa.microbatch import BUSY_MESSAGE, MicroBatcher
from qa.openai_api import MESSAGES, build_router
from qa.text import Tokenizer
from tests.scripted_llm import ScriptedLLM

REPORT = """# 慈溪工业报告

## 工业规模

2017年全市工业总产值达到4219.2亿元，比上年增长8%。2003年全市工业总产值为1002.8亿元。

## 企业梯队

目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。上市企业总数达到10家。
"""
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
QUESTION = "2017年全市工业总产值是多少？"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    return Assistant(open_index(corpus, root / "index", FakeEncoder()), FakeEncoder(), Tokenizer())


class Server:
    """uvicorn serving one router on a free 127.0.0.1 port, in a thread."""

    def __init__(self, router):
        import uvicorn
        from fastapi import FastAPI

        app = FastAPI()
        app.include_router(router)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=20)


def test_extractive_answer_through_the_openai_client(assistant):
    with Server(build_router(lambda: ExtractiveAnswerer(assistant))) as url:
        c = client(url)
        assert [m.id for m in c.models.list().data] == ["cixi-qa"]
        reply = c.chat.completions.create(
            model="cixi-qa", messages=[{"role": "user", "content": QUESTION}]
        )
    text = reply.choices[0].message.content
    assert "4219.2亿元" in text and "[1]" in text and "来源：" in text
    extra = reply.model_extra
    assert extra["qa"]["mode"] == "extractive" and extra["qa"]["found"] is True
    assert extra["citations"][0]["n"] == 1 and "4219.2" in extra["citations"][0]["text"]


def test_follow_up_uses_earlier_user_messages(assistant):
    with Server(build_router(lambda: ExtractiveAnswerer(assistant))) as url:
        reply = client(url).chat.completions.create(
            model="cixi-qa",
            messages=[
                {"role": "system", "content": "你是助手"},
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": "……"},
                {"role": "user", "content": [{"type": "text", "text": "那2003年呢？"}]},
            ],
        )
    assert "1002.8亿元" in reply.choices[0].message.content
    assert reply.model_extra["qa"]["query"].startswith("2003年")


def test_llm_answer_streams_checked_sentences(assistant):
    with ScriptedLLM() as llm:
        n = next(c.n for c in assistant.ask(QUESTION).citations if "4219.2" in c.text)
        llm.queue(f"2017年全市工业总产值达到4219.2亿元[{n}]。2003年为9999亿元[{n}]。")
        cfg = LLMConfig(base_url=llm.url, model="scripted")
        answerer = LLMAnswerer(assistant, LLMClient(cfg))
        with Server(build_router(lambda: answerer, ["k1", "k2"], spends_key=True)) as url:
            chunks = list(
                client(url, "k2").chat.completions.create(
                    model="cixi-qa", messages=[{"role": "user", "content": QUESTION}], stream=True
                )
            )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.startswith(f"2017年全市工业总产值达到4219.2亿元[{n}]。\n\n（已删去 1 句")
    assert "9999" not in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["qa"]["mode"] == "llm" and last.model_extra["citations"]


def test_llm_answer_not_streamed(assistant):
    with ScriptedLLM() as llm:
        llm.queue(NOT_FOUND)
        answerer = LLMAnswerer(assistant, LLMClient(LLMConfig(base_url=llm.url)))
        with Server(build_router(lambda: answerer)) as url:
            reply = client(url).chat.completions.create(
                model="x", messages=[{"role": "user", "content": QUESTION}]
            )
    assert reply.choices[0].message.content == NOT_FOUND
    assert reply.model_extra["qa"] == reply.model_extra["qa"] | {"mode": "llm", "found": False}


def test_keys_are_required_when_the_operator_pays(assistant):
    closed = build_router(lambda: ExtractiveAnswerer(assistant), (), spends_key=True)
    with Server(closed) as url:
        with pytest.raises(openai.AuthenticationError) as err:
            client(url, "anything").chat.completions.create(
                model="x", messages=[{"role": "user", "content": QUESTION}]
            )
    assert MESSAGES["closed"] in str(err.value)
    with Server(build_router(lambda: ExtractiveAnswerer(assistant), ["secret"])) as url:
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        assert client(url, "secret").models.list().data


@pytest.mark.parametrize(
    "messages, message",
    [
        ([{"role": "user", "content": "问" * 501}], "问题太长"),
        ([{"role": "user", "content": "  "}], "问题为空"),
        ([{"role": "assistant", "content": "你好"}], MESSAGES["no_question"]),
        ([], MESSAGES["bad_body"]),
    ],
)
def test_bad_requests_get_a_clear_message(assistant, messages, message):
    with Server(build_router(lambda: ExtractiveAnswerer(assistant))) as url:
        with pytest.raises(openai.BadRequestError) as err:
            client(url).chat.completions.create(model="x", messages=messages)
    assert message in str(err.value)


def _ask(url: str, stream: bool = False):
    messages = [{"role": "user", "content": QUESTION}]
    return client(url).chat.completions.create(model="cixi-qa", messages=messages, stream=stream)


def _streamed(url: str) -> tuple[list[str], dict]:
    chunks = list(_ask(url, stream=True))
    return [ch.choices[0].delta.content or "" for ch in chunks], chunks[-1].model_extra


def test_extractive_questions_share_the_micro_batches_and_answer_as_before(assistant):
    sizes = []

    def ask_many(questions, histories):
        sizes.append(len(questions))
        time.sleep(0.1)  # the others arrive meanwhile
        return assistant.ask_many(questions, histories)

    batcher = MicroBatcher(ask_many, window_s=0.02)
    extractive = ExtractiveAnswerer(assistant)
    with Server(build_router(lambda: extractive)) as url:
        alone, (alone_chunks, alone_extra) = _ask(url), _streamed(url)
    with Server(build_router(lambda: extractive, get_batcher=lambda: batcher)) as url:
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _: _ask(url), range(8)))
        chunks, extra = _streamed(url)
    batcher.close()
    assert sum(sizes) == 9 and max(sizes) > 1, f"batches of {sizes}"
    for reply in replies:
        assert reply.choices[0].message.content == alone.choices[0].message.content
        assert reply.model_extra == alone.model_extra
    assert chunks == alone_chunks and extra == alone_extra, "the stream is unchanged"


def test_a_full_batcher_is_a_429_with_the_busy_message(assistant):
    batcher = MicroBatcher(assistant.ask_many, max_waiting=0)
    with Server(
        build_router(lambda: ExtractiveAnswerer(assistant), get_batcher=lambda: batcher)
    ) as url:
        with pytest.raises(openai.RateLimitError) as err:
            _ask(url)
        chunks, _ = _streamed(url)
    batcher.close()
    assert BUSY_MESSAGE in str(err.value)
    assert "".join(chunks) == BUSY_MESSAGE


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"", b"[1, 2]", b'"text"'])
def test_a_body_that_is_no_json_object_gets_the_same_clear_message(assistant, body):
    import httpx

    with Server(build_router(lambda: ExtractiveAnswerer(assistant))) as url:
        reply = httpx.post(
            f"{url}/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == MESSAGES["bad_body"]
