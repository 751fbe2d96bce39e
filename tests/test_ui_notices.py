"""Gradio's own English notices are recognised: each rule matches the text as the installed
Gradio writes it (its frontend bundle, its File component), so an upgrade that changes one
fails here rather than showing English to visitors. The rewriting itself runs in Chromium
(tests/test_browser_notices.py)."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest

from qa.microbatch import BUSY_MESSAGE
from qa.readers import supported_suffixes
from qa.ui_chat import HEAD
from qa.ui_kb import check_upload
from qa.ui_notices import NOTICES, RULES, SCRIPT, UNSUPPORTED_TYPE

ASSETS = Path(gr.__file__).parent / "templates" / "frontend" / "assets"

# (rule, the fixed parts of the message in Gradio's bundle, the message as the page shows it)
GRADIO_TEXTS = [
    (
        "busy",
        ["This application is currently busy. Please try again. "],
        "This application is currently busy. Please try again. ",
    ),
    (
        "too_large",
        ["File(s) exceed the maximum allowed size of ${", ": ${", '`"${e.name}"`'],
        'File(s) exceed the maximum allowed size of 10.0 Mb: "big.txt", "b.pdf"',
    ),
    (
        "wrong_type",
        ["`Invalid file type${", ". Only ${", "} allowed.`"],
        "Invalid file types: a.exe, b.bat. Only .md, .pdf, .txt allowed.",
    ),
    ("upload_http", ["error:`HTTP ${", "}: ${"], 'HTTP 413: {"error":"每小时最多上传 1 个文件"}'),
    ("connection", ["Connection errored out. "], "Connection errored out. Failed to fetch"),
    ("queue", ["`queue: ${", "/${", "} |`"], "queue: 3/40 |"),
    ("processing", ["`processing |`"], "processing |"),
]


@pytest.fixture(scope="module")
def bundle() -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in ASSETS.glob("*.js"))


@pytest.mark.parametrize("rule, parts, shown", GRADIO_TEXTS, ids=[t[0] for t in GRADIO_TEXTS])
def test_each_rule_matches_the_text_the_installed_gradio_writes(bundle, rule, parts, shown):
    for part in parts:
        assert part in bundle, f"Gradio no longer writes {part!r}: update qa/ui_notices.py"
    assert re.search(RULES[rule], shown.strip()), shown


def test_the_file_components_own_type_error_is_recognised():
    from gradio.data_classes import FileData

    box = gr.File(file_types=supported_suffixes())
    with pytest.raises(gr.Error) as err:
        box.preprocess(FileData(path="/tmp/tool.exe", orig_name="tool.exe"))
    match = re.search(RULES["wrong_type_server"], err.value.message)
    assert match and ".pdf" in match.group(1)


def test_the_notices_are_chinese_and_reuse_the_apps_texts():
    assert NOTICES["busy"] == BUSY_MESSAGE, "one busy message for the page and the API"
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in NOTICES.values())
    assert SCRIPT in HEAD, "the page loads the script"
    assert BUSY_MESSAGE in SCRIPT and "__" not in SCRIPT


def test_a_rejected_type_names_the_accepted_ones_from_the_one_list(tmp_path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    types = " / ".join(supported_suffixes())
    assert check_upload(exe) == UNSUPPORTED_TYPE.format(types=types)
    assert "不支持的文件类型" in check_upload(exe) and ".docx" in check_upload(exe)
