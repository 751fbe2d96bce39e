"""LLM mode end to end: ``python app.py`` with QA_LLM_BASE_URL pointing at the scripted
chat-completions server (parrot replies: one true sentence, one with an invented number, one
citing the wrong passage), driven by Chromium and called with the ``openai`` client."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from embeddings import DEFAULT_MODEL
from tests.scripted_llm import ScriptedLLM, parrot_reply
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, ask, free_port, running
from tests.test_browser import need_browser as need_browser

pytestmark = pytest.mark.browser  # starts the app in a subprocess, like test_browser's
QUESTION = "2017年慈溪全市工业总产值是多少？"
WATCH = """() => { window.typing = false;
  new MutationObserver(() => { if (document.querySelector('#qa-chat')
    .innerText.includes('正在核对')) window.typing = true; })
  .observe(document.querySelector('#qa-chat'), {subtree: true, childList: true,
    characterData: true}); }"""


@pytest.fixture(scope="module")
def llm_app(tmp_path_factory):
    """(app URL, scripted server) for ``python app.py`` in LLM mode."""
    tmp = tmp_path_factory.mktemp("llm_app")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "qa" / "data" / "corpus", corpus)
    port = free_port()
    with ScriptedLLM(parrot_reply, chunk_delay=0.03) as llm:
        env = os.environ | {
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_TEMP_DIR": str(tmp / "gradio"),
            "QA_MODEL": DEFAULT_MODEL,  # the real default model: answers as users get them
            "QA_CORPUS_DIR": str(corpus),
            "QA_INDEX_DIR": str(tmp / "index"),
            "QA_LLM_BASE_URL": llm.url,
            "QA_LLM_MODEL": "scripted",
            "QA_LLM_API_KEY": "operator-key",
            "QA_API_KEYS": "our-key",
        }
        url = f"http://127.0.0.1:{port}/"
        with running([sys.executable, "app.py"], env, tmp / "app.log", url):
            yield url, llm


def test_openai_client_against_the_running_app(llm_app):
    import openai

    url, llm = llm_app
    with pytest.raises(openai.AuthenticationError):  # the operator's key is spent: ours needed
        openai.OpenAI(base_url=url + "v1", api_key="wrong", max_retries=0).models.list()
    client = openai.OpenAI(base_url=url + "v1", api_key="our-key", max_retries=0, timeout=60)
    reply = client.chat.completions.create(
        model="cixi-qa", messages=[{"role": "user", "content": QUESTION}]
    )
    assert reply.model_extra["qa"]["mode"] == "llm" and "[1]" in reply.choices[0].message.content
    assert llm.calls[-1]["headers"]["authorization"] == "Bearer operator-key"


def test_llm_answer_streams_in_a_real_browser(llm_app, tmp_path):
    need_browser()
    from playwright.sync_api import expect, sync_playwright

    url, llm = llm_app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#qa-question textarea").wait_for(timeout=60_000)
            page.evaluate(WATCH)
            calls = len(llm.calls)
            ask(page, QUESTION)
            chat = page.locator("#qa-chat")
            expect(chat).to_contain_text("回答方式：语言模型撰写", timeout=60_000)
            expect(chat).to_contain_text("已删去")  # the invented figure was caught
            assert page.evaluate("window.typing"), "checked sentences streamed in"
            assert len(llm.calls) == calls + 1
            prompt = llm.calls[-1]["body"]["messages"][1]["content"]
            first = parrot_reply(llm.calls[-1]["body"]["messages"]).split("[1]")[0]
            text = chat.inner_text()
            assert first in text  # the true sentence is shown…
            invented = parrot_reply(llm.calls[-1]["body"]["messages"]).split("[1]。")[1]
            assert invented and invented not in text  # …the one with the invented number not
            assert prompt
            page.screenshot(path=tmp_path / "llm.png", full_page=True)

            ask(page, "月球表面温度是多少？")  # not in the documents: the model is not asked
            expect(chat).to_contain_text("资料中没有找到能回答这个问题的内容。", timeout=60_000)
            assert len(llm.calls) == calls + 1
        finally:
            browser.close()
