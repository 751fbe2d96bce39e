"""The running app, end to end: ``python app.py`` in a subprocess on a free port, driven by
Debian's Chromium through Playwright, and called through ``gradio_client``.

The app runs on a copy of the bundled corpus (plus a hostile document) with the fake
encoder and a temporary index, so it starts in seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa import DEFAULT_CORPUS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 180  # seconds for the app to build its index and serve
HOSTILE = """# 防护测试文档

防护测试段落：<script>window.pwned=1</script>以及<img src=x onerror="window.pwned=1">都应原样显示。
"""
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """URL of ``python app.py`` serving a temporary corpus and index; stopped afterwards."""
    tmp = tmp_path_factory.mktemp("app")
    corpus = tmp / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    (corpus / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    port = free_port()
    env = os.environ | {
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "QA_MODEL": "fake",
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp / "index"),
    }
    log = (tmp / "app.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app exited with {proc.returncode}:\n{(tmp / 'app.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"app did not start in {START_TIMEOUT}s:\n{(tmp / 'app.log').read_text()}"
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_ask_endpoint_with_gradio_client(app_server):
    from gradio_client import Client

    client = Client(app_server, verbose=False)
    out = client.predict("慈溪有几家国家级单项冠军企业？", api_name="/ask")
    assert "3家" in out and "[1]" in out and "<mark>" in out
    assert client.predict("月球表面温度是多少？", api_name="/ask").startswith("资料中没有找到")
    assert client.predict("   ", api_name="/ask") == "问题为空：请输入一个问题。"
    assert "问题太长" in client.predict("慈" * 501, api_name="/ask")


def need_browser():
    """Playwright and Debian's Chromium, or a skip (a failure under CI)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def ask(page, question: str) -> None:
    """Type a question, send it, and wait until its reply is complete."""
    replies = page.locator("#chat .qa-source")
    before = replies.count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .qa-source').length > n", arg=before
    )


@pytest.mark.browser
def test_chat_in_a_real_browser(app_server, tmp_path):
    need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(app_server)
            expect(page.get_by_text("知识库共")).to_be_visible()

            ask(page, "慈溪有几家国家级单项冠军企业？")
            chat = page.locator("#chat")
            expect(chat).to_contain_text("3家")
            expect(chat).to_contain_text("来源")
            mark = chat.locator(".qa-source mark").first
            expect(mark).to_contain_text("国家级单项冠军3家")
            page.screenshot(path=tmp_path / "chat.png", full_page=True)

            ask(page, "2017年慈溪全市工业总产值是多少？")
            ask(page, "那2003年呢？")
            expect(chat).to_contain_text("结合上文理解为：2003年慈溪全市工业总产值是多少？")

            ask(page, "月球表面温度是多少？")
            expect(chat).to_contain_text("资料中没有找到能回答这个问题的内容。")
            expect(chat).to_contain_text("可能相关（未找到答案）")

            ask(page, "防护测试段落写了什么？")  # the hostile document shows as text
            expect(chat).to_contain_text("<script>window.pwned=1</script>")
            expect(chat).to_contain_text('<img src=x onerror="window.pwned=1">')
            assert page.evaluate("window.pwned") is None
            assert chat.locator(".qa-passage img, .qa-passage script").count() == 0

            page.get_by_role("tab", name="知识库", exact=True).click()
            bridge = tmp_path / "bridge.md"
            bridge.write_text(BRIDGE, encoding="utf-8")
            page.locator("#kb-upload input[type=file]").set_input_files(bridge)
            expect(page.locator("#kb-upload")).to_contain_text("bridge.md")
            page.locator("#kb-add").click()
            expect(page.get_by_text("bridge.md：已添加")).to_be_visible()
            page.get_by_role("tab", name="问答", exact=True).click()
            ask(page, "慈溪跨海大桥全长多少公里？")
            expect(chat).to_contain_text("三十六公里")
            page.screenshot(path=tmp_path / "after-upload.png", full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "chat.png").stat().st_size > 10_000
