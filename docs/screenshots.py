"""Take the README's screenshots of a running app: an answer, a clicked citation and a refusal,
at 1400×1000 and 390×844, with Debian's Chromium (Playwright, zh-CN).

    python app.py &                    # the default model, the bundled corpus
    python docs/screenshots.py http://127.0.0.1:7860/
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent
ANSWER = "慈溪有几家国家级单项冠军企业？"
FOLLOW_UP = ("2017年慈溪全市工业总产值是多少？", "那2003年呢？")
REFUSAL = "慈溪的市长叫什么名字？"
SIZES = {"desktop": (1400, 1000), "mobile": (390, 844)}


def ask(page, question: str) -> None:
    before = page.locator("#qa-chat .qa-reply").count()
    page.locator("#qa-question textarea").fill(question)
    page.get_by_role("button", name="提问", exact=True).click()
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-reply').length > n", arg=before
    )
    page.wait_for_timeout(600)  # the page's script scrolls the newest answer into view


def main(url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        for name, (width, height) in SIZES.items():
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#qa-question textarea").wait_for()
            for question in (*FOLLOW_UP, ANSWER):
                ask(page, question)
            page.screenshot(path=OUT / f"{name}-answer.png")
            page.locator("#qa-chat .qa-reply").last.locator(".qa-ref").first.click()
            page.wait_for_timeout(600)
            page.screenshot(path=OUT / f"{name}-citation.png")
            page.evaluate("window.scrollTo(0, 0)")
            ask(page, REFUSAL)
            page.screenshot(path=OUT / f"{name}-refusal.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/")
