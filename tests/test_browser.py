"""The running app, end to end: ``python app.py`` in a subprocess on a free port, driven by
Debian's Chromium through Playwright, and called through ``gradio_client``.

The app runs on a copy of the bundled corpus (plus a hostile document) with the fake
encoder and a temporary index, so it starts in seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from embeddings import DEFAULT_MODEL
from qa import DEFAULT_CORPUS
from tests.test_app_http import free_port, stop  # one copy of starting and stopping a server

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
# Gradio's translation namespaces: "common.upload" on the page is a key nobody translated.
NAMESPACES = (
    "annotated_image audio blocks chat_interface chatbot checkbox code color_picker common "
    "dataframe dropdown errors file highlighted_text image image_editor label login number "
    "plot radio slider status upload_text video"
).split()
UNTRANSLATED = re.compile(rf"\b(?:{'|'.join(NAMESPACES)})\.[a-z_]+\b")
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"


@contextmanager
def running(args: list[str], env: dict, log_path: Path, url: str) -> Iterator[None]:
    """A server (``args``, run from the project root, output to ``log_path``) until ``url``
    answers 200; stopped afterwards. Fails with its log when it exits or does not answer
    within ``START_TIMEOUT``."""
    log = log_path.open("w")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app did not start in {START_TIMEOUT}s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def app_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def app_server(app_tmp):
    """URL of ``python app.py`` serving a temporary corpus and index; stopped afterwards."""
    tmp = app_tmp
    corpus = tmp / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    (corpus / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    port = free_port()
    env = os.environ | {
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "QA_MODEL": DEFAULT_MODEL,  # the real default model: answers as users get them
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp / "index"),
    }
    url = f"http://127.0.0.1:{port}/"
    with running([sys.executable, "app.py"], env, tmp / "app.log", url):
        yield url


def test_ask_endpoints_with_gradio_client(app_server):
    from gradio_client import Client

    client = Client(app_server, verbose=False)
    out = client.predict("慈溪有几家国家级单项冠军企业？", api_name="/ask")
    assert "3家" in out and "[1]" in out and "**来源**" in out
    assert "<mark>" not in out and "<div" not in out  # Markdown, no HTML
    assert client.predict("月球表面温度是多少？", api_name="/ask").startswith("资料中没有找到")
    assert client.predict("   ", api_name="/ask") == "问题为空：请输入一个问题。"
    assert "问题太长" in client.predict("慈" * 501, api_name="/ask")
    record = client.predict("慈溪有几家国家级单项冠军企业？", api_name="/ask_record")
    assert record["found"] is True and "3家" in record["answer"]
    assert {"page", "location", "highlights"} <= set(record["citations"][0])
    follow = client.predict("那2003年呢？", ["2017年慈溪全市工业总产值是多少？"], api_name="/ask")
    assert "2003" in follow


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


@pytest.fixture(scope="module")
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def editor_link(app_tmp) -> str:
    """The one-time editor link the app printed at start (no login configured)."""
    match = re.search(r"(http://\S+/kb/editor\?token=\S+)", (app_tmp / "app.log").read_text())
    assert match, "the app printed no editor link"
    return match.group(1)


@pytest.fixture
def open_page(browser, app_server):
    """``open_page(width, height)``: a fresh zh-CN page of the app, its chat ready."""
    contexts = []

    def open_(width: int = 1400, height: int = 1000, scheme: str = "light"):
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", color_scheme=scheme
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_server)
        page.locator("#qa-question textarea").wait_for()
        return page

    yield open_
    for context in contexts:
        context.close()


def ask(page, question: str) -> None:
    """Type a question, send it, and wait until its reply has arrived."""
    before = page.locator("#qa-chat .qa-reply").count()
    page.locator("#qa-question textarea").fill(question)
    page.get_by_role("button", name="提问", exact=True).click()
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=before
    )


def in_viewport(page, locator) -> bool:
    """Is the element's box inside the window and not scrolled out of its scroll parents?"""
    return locator.evaluate(
        """el => {
            const r = el.getBoundingClientRect();
            if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth)
                return false;
            for (let p = el.parentElement; p; p = p.parentElement) {
                const s = getComputedStyle(p);
                if (!/(auto|scroll|hidden)/.test(s.overflowY)) continue;
                const b = p.getBoundingClientRect();
                if (r.top < b.top - 1 || r.bottom > b.bottom + 1) return false;
            }
            return r.height > 0;
        }"""
    )


def readable(text: str) -> str:
    """Text as a person reads it: no whitespace (Gradio splits file names over nodes)."""
    return re.sub(r"\s+", "", text)


def no_horizontal_overflow(page) -> bool:
    """Nothing wider than the window: the page does not scroll sideways, and no element of
    the chat or the evidence panel sticks out of it (a clipping parent would hide that)."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= innerWidth &&
            [...document.querySelectorAll('#qa-chat *, #qa-evidence-box *')].every(
                el => el.getBoundingClientRect().right <= innerWidth + 1)"""
    )


def contrast(page, selector: str) -> float:
    """WCAG contrast ratio of the first ``selector``'s text against its nearest opaque
    background."""
    return page.locator(selector).first.evaluate(
        """el => {
            const rgb = c => c.match(/[\\d.]+/g).map(Number);
            const lum = ([r, g, b]) => {
                const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            let back = [255, 255, 255];
            for (let p = el; p; p = p.parentElement) {
                const c = rgb(getComputedStyle(p).backgroundColor);
                if (c.length === 3 || c[3] > 0.5) { back = c; break; }
            }
            const [text, ground] = [lum(rgb(getComputedStyle(el).color)), lum(back)];
            return (Math.max(text, ground) + 0.05) / (Math.min(text, ground) + 0.05);
        }"""
    )


@pytest.mark.browser
def test_answer_is_in_view_and_citation_shows_highlighted_sentence(open_page, tmp_path):
    from playwright.sync_api import expect

    page = open_page(1400, 1000)
    for question in ("2017年慈溪全市工业总产值是多少？", "慈溪有几家国家级单项冠军企业？"):
        ask(page, question)
        newest = page.locator("#qa-chat .qa-reply").last
        expect(newest.locator(".qa-short")).to_be_visible()
        assert in_viewport(page, newest.locator(".qa-short")), question
    expect(newest).to_contain_text("3家")
    expect(newest.locator(".qa-chip").first).to_contain_text("[1]")
    page.screenshot(path=tmp_path / "answer.png")

    newest.locator(".qa-ref").first.click()
    target = page.locator("#qa-evidence-box .qa-ev-active .qa-source.qa-target")
    expect(target).to_have_count(1)
    mark = target.locator("mark").first
    expect(mark).to_contain_text("国家级单项冠军3家")
    assert in_viewport(page, mark)
    page.screenshot(path=tmp_path / "citation.png")

    first = page.locator("#qa-chat .qa-reply").first  # an earlier reply's chip selects it
    first.locator(".qa-chip").first.click()
    active = page.locator("#qa-evidence-box .qa-ev-active")
    expect(active.locator(".qa-ev-q")).to_contain_text("2017年慈溪全市工业总产值")
    assert (tmp_path / "citation.png").stat().st_size > 10_000


@pytest.mark.browser
def test_refusal_shows_reason_and_possibly_related_passages(open_page, app_server, tmp_path):
    from gradio_client import Client
    from playwright.sync_api import expect

    page = open_page(1400, 1000)
    ask(page, "月球表面温度是多少？")
    reply = page.locator("#qa-chat .qa-reply").last
    expect(reply).to_contain_text("资料中没有找到能回答这个问题的内容。")
    expect(reply).to_contain_text("原因：")
    panel = page.locator("#qa-evidence-box .qa-ev-active")
    expect(panel.locator(".qa-related")).to_have_text("可能相关（未找到答案）")
    expect(panel.locator(".qa-reason")).to_be_visible()
    assert in_viewport(page, panel.locator(".qa-reason"))
    assert panel.locator("mark").count() == 0
    page.screenshot(path=tmp_path / "refusal.png")
    shown = [float(s) for s in re.findall(r"相关度 ([0-9.]+)", panel.inner_text())]
    client = Client(app_server, verbose=False)
    record = client.predict("月球表面温度是多少？", api_name="/ask_record")
    best = sorted((float(f"{c['score']:.3f}") for c in record["citations"]), reverse=True)
    assert shown == best[: len(shown)] and len(shown) == 3, "the closest passages, best first"


@pytest.mark.browser
def test_no_untranslated_interface_keys(open_page):
    page = open_page(1400, 1000)
    ask(page, "慈溪有几家国家级单项冠军企业？")
    texts = [page.inner_text("body")]
    for tab in ("知识库", "批量问答", "问答"):
        tabs = page.get_by_role("tab", name=tab, exact=True)
        if tabs.count():
            tabs.click()
            page.wait_for_timeout(300)
            texts.append(page.inner_text("body"))
    keys = {k for text in texts for k in UNTRANSLATED.findall(text)}
    assert not keys, f"untranslated interface keys on the page: {sorted(keys)}"


@pytest.mark.browser
def test_overlong_question_gets_the_server_message(open_page):
    from playwright.sync_api import expect

    page = open_page(1400, 1000)
    box = page.locator("#qa-question textarea")
    box.fill("慈" * 600)
    expect(page.locator("#qa-counter")).to_have_text("600 / 500 字")
    expect(page.locator("#qa-counter")).to_have_class(re.compile("qa-over"))
    page.get_by_role("button", name="提问", exact=True).click()
    expect(page.locator("#qa-chat")).to_contain_text("问题太长（600 字），请控制在 500 字以内。")
    assert len(box.input_value()) == 600  # kept, not cut: the user can shorten it


@pytest.mark.browser
def test_mobile_layout_fits_390_px(open_page, tmp_path):
    from playwright.sync_api import expect

    page = open_page(390, 844)
    assert no_horizontal_overflow(page)
    ask(page, "慈溪有几家国家级单项冠军企业？")
    reply = page.locator("#qa-chat .qa-reply").last
    assert in_viewport(page, reply.locator(".qa-short"))
    page.screenshot(path=tmp_path / "mobile-answer.png")
    reply.locator(".qa-ref").first.click()
    mark = page.locator("#qa-evidence-box .qa-ev-active .qa-target mark").first
    expect(mark).to_be_visible()
    assert in_viewport(page, mark)  # the panel is below the chat: the page scrolled to it
    chat_box = page.locator("#qa-chat").bounding_box()
    panel_box = page.locator("#qa-evidence-box").bounding_box()
    assert panel_box["y"] >= chat_box["y"] + chat_box["height"]
    assert no_horizontal_overflow(page)
    page.screenshot(path=tmp_path / "mobile-citation.png")
    ask(page, "月球表面温度是多少？")
    assert no_horizontal_overflow(page)


@pytest.mark.browser
def test_a_citation_clicked_the_moment_its_reply_appears_stays_shown(open_page):
    """The page's own check for a new reply (every 200 ms) and a late redraw of the evidence
    panel come after the click: the clicked sentence stays highlighted and in view."""
    from playwright.sync_api import expect

    page = open_page(390, 844)
    page.evaluate(
        """() => new MutationObserver((_, seen) => {
            const ref = document.querySelector('#qa-chat .qa-reply .qa-ref');
            if (ref) { seen.disconnect(); ref.click(); }
        }).observe(document.body, { childList: true, subtree: true })"""
    )
    ask(page, "慈溪有几家国家级单项冠军企业？")
    page.wait_for_timeout(1500)
    mark = page.locator("#qa-evidence-box .qa-ev-active .qa-target mark").first
    expect(mark).to_be_visible()
    assert in_viewport(page, mark)


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_light_and_dark_mode(open_page, tmp_path, scheme):
    page = open_page(1400, 1000, scheme)
    ask(page, "慈溪有几家国家级单项冠军企业？")
    page.locator("#qa-chat .qa-reply .qa-ref").first.click()
    for selector in (
        "#qa-chat .qa-short",
        "#qa-chat .qa-chip",
        "#qa-evidence-box .qa-ev-active .qa-passage",
        "#qa-evidence-box .qa-ev-active .qa-passage mark",
        "#qa-evidence-box .qa-ev-active .qa-where",
        "#qa-chat .qa-act",
        "#qa-counter",
    ):
        assert contrast(page, selector) >= 4.5, (scheme, selector)
    page.screenshot(path=tmp_path / f"{scheme}.png")


@pytest.mark.browser
def test_document_filter_is_applied_and_shown(open_page):
    from playwright.sync_api import expect

    page = open_page(1400, 1000)
    page.get_by_text("检索范围与设置").click()
    page.locator("#qa-filter label", has_text="cixi-important-window-2020.txt").click()
    ask(page, "慈溪有几家国家级单项冠军企业？")
    reply = page.locator("#qa-chat .qa-reply").last
    expect(reply).to_contain_text("仅在 1 篇文档中检索")
    sources = page.locator("#qa-evidence-box .qa-ev-active .qa-where")
    assert sources.count() and all(
        "cixi-important-window-2020.txt" in readable(t) for t in sources.all_inner_texts()
    )


@pytest.mark.browser
def test_copy_feedback_and_download(open_page, app_server):
    from playwright.sync_api import expect

    page = open_page(1400, 1000)
    ask(page, "慈溪有几家国家级单项冠军企业？")
    reply = page.locator("#qa-chat .qa-reply").last
    reply.locator(".qa-copy").click()
    expect(reply.locator(".qa-copy")).to_have_text("已复制")
    page.locator("#qa-comment textarea").fill("浏览器测试的意见")
    reply.locator(".qa-fb", has_text="答案有误").click()
    expect(page.locator("#qa-status")).to_contain_text("已记录：答案有误")
    toast = page.locator("[data-testid=toast-body]", has_text="已记录：答案有误")
    expect(toast).to_be_visible()
    assert in_viewport(page, toast)  # the status line under the chat may be out of view
    expect(page.locator("#qa-comment textarea")).to_have_value("")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载对话（Markdown）").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## 1. 慈溪有几家国家级单项冠军企业？" in text and "**来源**" in text


@pytest.mark.browser
def test_conversation_upload_and_hostile_text(open_page, app_tmp, tmp_path):
    from playwright.sync_api import expect

    page = open_page(1280, 1000)
    chat = page.locator("#qa-chat")
    panel = page.locator("#qa-evidence-box")
    ask(page, "2017年慈溪全市工业总产值是多少？")
    ask(page, "那2003年呢？")
    expect(chat).to_contain_text("结合上文理解为：2003年慈溪全市工业总产值是多少？")

    ask(page, "防护测试段落写了什么？")  # the hostile document shows as text
    expect(panel).to_contain_text("<script>window.pwned=1</script>")
    expect(panel).to_contain_text('<img src=x onerror="window.pwned=1">')
    assert page.evaluate("window.pwned") is None
    assert page.locator(".qa-passage img, .qa-passage script, #qa-chat img").count() == 0

    page.get_by_role("tab", name="知识库", exact=True).click()
    expect(page.get_by_text("修改共享知识库")).to_be_visible()  # anonymous: read-only
    assert page.locator("#kb-add").count() == 0 or not page.locator("#kb-add").is_visible()
    page.goto(editor_link(app_tmp))  # sets the editor cookie, back to the page
    page.get_by_role("tab", name="知识库", exact=True).click()
    expect(page.get_by_text("已登录为编辑者")).to_be_visible()
    bridge = tmp_path / "bridge.md"
    bridge.write_text(BRIDGE, encoding="utf-8")
    page.locator("#kb-upload input[type=file]").set_input_files(bridge)
    upload = page.locator("#kb-upload")
    expect(upload).to_contain_text("bridge")
    assert "bridge.md" in readable(upload.inner_text())
    page.locator("#kb-add").click()
    page.wait_for_function(
        "() => document.body.innerText.replace(/\\s+/g, '').includes('bridge.md：已添加')"
    )
    page.get_by_role("tab", name="问答", exact=True).click()
    ask(page, "慈溪跨海大桥全长多少公里？")
    expect(chat.locator(".qa-reply").last).to_contain_text("三十六公里")
    page.screenshot(path=tmp_path / "after-upload.png", full_page=True)


def _long_document(path: Path, lines: int) -> Path:
    """Distinct sentences enough for the background worker to take a while."""
    body = "".join(
        f"第{i}条：慈溪滩涂第{i % 37}号区块在{2000 + i % 20}年围垦{i * 3 % 900}亩，"
        f"种植芦苇{i % 11}年后改为鱼塘，养殖户{i % 40 + 2}户。\n"
        for i in range(lines)
    )
    path.write_text("# 慈溪滩涂围垦台账\n\n" + body, encoding="utf-8")
    return path


@pytest.mark.browser
def test_session_upload_shows_progress_while_questions_are_answered(open_page, tmp_path):
    from playwright.sync_api import expect

    page = open_page(1280, 1000)
    page.get_by_role("tab", name="知识库", exact=True).click()
    doc = _long_document(tmp_path / "tidal.md", 400)  # about 40 KB, 80 passages
    page.locator("#kb-session-upload input[type=file]").set_input_files(doc)
    expect(page.locator("#kb-session-upload")).to_contain_text("tidal")
    page.locator("#kb-session-add").click()
    page.wait_for_function(
        "() => /tidal.md：正在建立索引 [0-9]+\\/[0-9]+ 个段落/.test(document.body.innerText)"
    )
    page.screenshot(path=tmp_path / "session-upload-progress.png", full_page=True)
    page.get_by_role("tab", name="问答", exact=True).click()
    start = time.monotonic()
    ask(page, "慈溪有几家国家级单项冠军企业？")  # answered while the worker embeds
    asked = time.monotonic() - start
    expect(page.locator("#qa-chat .qa-reply").last).to_contain_text("3家")
    page.get_by_role("tab", name="知识库", exact=True).click()
    page.wait_for_function(
        "() => document.body.innerText.includes('tidal.md：') && "
        "document.body.innerText.includes('仅本会话可用')",
        timeout=300_000,
    )
    page.screenshot(path=tmp_path / "session-upload-done.png", full_page=True)
    assert asked < 30, f"a question took {asked:.1f}s during the upload"
