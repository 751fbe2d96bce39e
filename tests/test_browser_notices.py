"""What a visitor sees when Gradio itself says no, in Chromium: a full queue, an upload over
the caps or of a type the box does not take. The app runs with the fake encoder, a queue of
one waiting event, slow answers and one upload an hour per visitor, so each refusal can be
provoked; every message must be Chinese, name the limit, and lose nothing."""

from __future__ import annotations

import os
import sys

import pytest

from qa.microbatch import BUSY_MESSAGE
from qa.readers import supported_suffixes
from qa.ui_notices import SCRIPT
from tests.test_browser import BRIDGE, ROOT, ask, free_port, running
from tests.test_browser import browser as browser  # the module's Chromium, shared fixture

pytestmark = pytest.mark.browser

SLOW_S = 4.0  # each answer batch takes this long: the second asker waits, the third is refused
SERVER = f"""
import sys, time
import uvicorn
import app
from qa.serving import UploadQuota
assistant = app.get_assistant()
ask_many = assistant.ask_many
def slow(*args, **kwargs):
    time.sleep({SLOW_S})
    return ask_many(*args, **kwargs)
assistant.ask_many = slow
app.demo.queue(max_size=1, default_concurrency_limit=1)
app.UploadQuota = lambda: UploadQuota(max_files=1)
server = app.build_app()
print("serving", flush=True)
uvicorn.run(server, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
QUESTION = "慈溪跨海大桥全长多少公里？"
ENGLISH = ("busy", "Please try again", "exceed", "Invalid file", "HTTP 4", "Error")


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """URL of the app with a queue of one, slow answers and one upload per visitor."""
    tmp = tmp_path_factory.mktemp("strict")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "sea.md").write_text(BRIDGE, encoding="utf-8")
    port = free_port()
    env = os.environ | {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "QA_MODEL": "fake",
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp / "index"),
        "PYTHONPATH": str(ROOT),
    }
    url = f"http://127.0.0.1:{port}/"
    with running([sys.executable, "-c", SERVER, str(port)], env, tmp / "app.log", url):
        yield url


@pytest.fixture
def new_page(browser):
    contexts = []

    def open_(url: str | None = None):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        if url:
            page.goto(url)
            page.locator("#qa-question textarea").wait_for()
        return page

    yield open_
    for context in contexts:
        context.close()


def toasts(page) -> list[str]:
    return page.locator('[data-testid="toast-text"]').all_inner_texts()


def wait_for_toast(page, text: str) -> None:
    page.wait_for_function(
        """t => [...document.querySelectorAll('[data-testid="toast-text"]')]
            .some(e => e.textContent.includes(t))""",
        arg=text,
    )


def no_english(page) -> bool:
    texts = toasts(page) + page.locator(".toast-title").all_inner_texts()
    return not any(word in text for text in texts for word in ENGLISH)


def test_the_script_rewrites_each_of_gradios_notices(new_page):
    """The rewriting alone, on toasts shaped like Gradio's."""
    page = new_page()
    page.set_content(f"<html><head>{SCRIPT}</head><body></body></html>")
    shown = {
        "This application is currently busy. Please try again. ": BUSY_MESSAGE,
        'File(s) exceed the maximum allowed size of 10.0 Mb: "a.txt", "b.txt"': (
            "无法上传 a.txt、b.txt：文件超过上传上限（10 MB）。"
        ),
        "Invalid file type: a.exe, b.exe, c.exe, d.exe, e.exe and 2 more. Only .md, .txt "
        "allowed.": "无法上传 a.exe、b.exe、c.exe、d.exe、e.exe等 7 个文件："
        "不支持的文件类型（只接受 .md / .txt）。",
        "Invalid file type. Please upload a file that is one of these formats: ['.md', '.txt']": (
            "无法使用上传的文件：不支持的文件类型（只接受 .md / .txt）。"
        ),
        'HTTP 413: {"error":"每小时最多上传 1 个文件，请稍后再试"}': (
            "无法上传：每小时最多上传 1 个文件，请稍后再试"
        ),
        "HTTP 413: File size exceeded maximum allowed size": "无法上传：文件超过上传上限。",
        "HTTP 502: Bad Gateway": "上传失败（HTTP 502），请稍后再试。",
        "Connection errored out. Failed to fetch": "与服务器的连接中断，请检查网络后刷新页面重试。",
        "一条中文提示": "一条中文提示",  # the app's own messages are left alone
    }
    page.evaluate(
        """texts => texts.forEach(text => {
            const toast = document.createElement("div");
            toast.dataset.testid = "toast-body";
            toast.innerHTML = '<span class="toast-title">Error </span>' +
                '<div data-testid="toast-text"></div>';
            toast.lastChild.textContent = text;
            document.body.appendChild(toast);
        })""",
        list(shown),
    )
    page.wait_for_timeout(100)
    assert toasts(page) == list(shown.values())
    assert set(page.locator(".toast-title").all_inner_texts()) == {"错误"}
    page.locator('[data-testid="toast-text"]').first.evaluate(
        "(e, text) => { e.firstChild.nodeValue = text; }", list(shown)[0]
    )  # the page reuses a toast's text node for a new message: rewritten again
    page.wait_for_timeout(100)
    assert toasts(page)[0] == BUSY_MESSAGE
    page.evaluate(
        """() => document.body.insertAdjacentHTML("beforeend",
            '<div class="progress-text">queue: 3/40 |</div>' +
            '<div class="progress-text">processing |</div>')"""
    )
    page.wait_for_timeout(100)
    labels = page.locator(".progress-text").all_inner_texts()
    assert labels == ["排队中 3/40 |", "处理中 |"]


def test_a_full_queue_tells_the_visitor_to_try_again_and_keeps_the_question(
    new_page, strict_server, tmp_path
):
    first, second, third = (new_page(strict_server) for _ in range(3))
    ask(third, QUESTION)  # an earlier answer, which must stay in view
    for page in (first, second, third):
        page.locator("#qa-question textarea").fill(QUESTION)
    first.get_by_role("button", name="提问", exact=True).click()  # answering
    first.locator("#qa-chat").get_by_text("正在查找资料").wait_for()
    second.get_by_role("button", name="提问", exact=True).click()  # waiting: the queue is full
    waiting = second.locator("#qa-chat .progress-text")
    waiting.filter(has_text="排队中 1/1").wait_for()  # Gradio's "queue: 1/1", in Chinese
    third.get_by_role("button", name="提问", exact=True).click()  # turned away
    wait_for_toast(third, BUSY_MESSAGE)
    third.screenshot(path=tmp_path / "queue-full.png")
    assert no_english(third) and "queue" not in waiting.inner_text()
    box = third.locator("#qa-question textarea")
    assert box.input_value() == QUESTION and box.is_visible(), "the question is kept, in view"
    assert third.locator("#qa-chat .qa-reply").first.is_visible(), "the conversation too"
    assert not third.locator("[data-testid=status-tracker] .error").first.is_visible()
    for page in (first, second):
        page.locator("#qa-chat .qa-reply").filter(has_text="三十六公里").wait_for(timeout=60_000)
    ask(third, QUESTION)  # once the others are answered, trying again works
    assert "三十六公里" in third.locator("#qa-chat .qa-reply").last.inner_text()


def test_uploads_over_a_cap_or_of_another_type_get_a_chinese_reason(
    new_page, strict_server, tmp_path
):
    page = new_page(strict_server)
    page.get_by_role("tab", name="知识库", exact=True).click()
    upload = page.locator("#kb-session-upload input[type=file]")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ" + bytes(100))
    upload.set_input_files(exe)
    wait_for_toast(page, "无法上传 tool.exe：不支持的文件类型")
    assert f"（只接受 {' / '.join(supported_suffixes())}）" in toasts(page)[-1]

    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (10 * 1024 * 1024 + 1))  # over the page's hard limit
    upload.set_input_files(big)
    wait_for_toast(page, "无法上传 big.txt：文件超过上传上限（10 MB）。")

    kept = tmp_path / "sea-notes.md"
    kept.write_text("# 海塘\n\n慈溪海塘全长一百二十公里。\n", encoding="utf-8")
    upload.set_input_files(kept)  # the visitor's one upload this hour
    page.locator("#kb-session-upload").filter(has_text="sea-notes").wait_for()
    other = tmp_path / "other.md"
    other.write_text("# 另一篇\n\n内容。\n", encoding="utf-8")
    upload.set_input_files(other)  # refused by the per-visitor cap (HTTP 413)
    wait_for_toast(page, "无法上传：每小时最多上传 1 个文件，请稍后再试")
    page.screenshot(path=tmp_path / "upload-refused.png", full_page=True)
    assert no_english(page)
    assert not page.locator("#kb-session-upload [data-testid=status-tracker] .error").is_visible()
    listed = page.locator("#kb-session-upload tr").filter(has_text="sea-notes")
    assert listed.is_visible(), "the file already uploaded is still shown"
    page.locator("#kb-session-add").click()  # what was uploaded is still there to add
    page.wait_for_function("() => document.body.innerText.includes('仅本会话可用')")
