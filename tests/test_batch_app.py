"""The 批量问答 tab's handler and layout."""

from __future__ import annotations

import csv
import json

import gradio as gr
import openpyxl
import pytest

from embeddings import FakeEncoder
from qa import Assistant
from qa.batch_app import answer_file, build_batch_tab

QUESTIONS = ["2017年慈溪社会消费品零售总额是多少？", "杭州湾新区规划面积多大？"]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb")
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text(
        "# 概况\n\n2017年慈溪市级实现社会消费品零售总额477.83亿元。\n\n"
        "杭州湾新区位于慈溪北部，规划面积353平方公里。\n",
        encoding="utf-8",
    )
    return Assistant.open(root / "idx", corpus=root / "docs", model=FakeEncoder())


class Progress:
    """Records calls made the way ``gr.Progress`` is called."""

    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, unit=None):
        self.calls.append(value)


def test_txt_upload_gives_csv_with_answers_and_errors(assistant, tmp_path):
    src = tmp_path / "问题.txt"
    src.write_text(f"{QUESTIONS[0]}\n{'长' * 600}\n{QUESTIONS[1]}\n", encoding="utf-8")
    progress = Progress()
    out, message = answer_file(str(src), assistant, progress, out_dir=tmp_path)
    assert out.endswith("问题-answers.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert "477.83亿元" in rows[0]["answer"] and rows[0]["source"] == "a.md"
    assert "问题太长" in rows[1]["error"]
    assert progress.calls[-1] == (3, 3)
    assert "已处理 3 个问题" in message and "1 行无法回答" in message
    assert "- 2：问题太长（600 字）" in message


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".xlsx"])
def test_answers_come_back_in_the_input_format(assistant, tmp_path, suffix):
    src = tmp_path / f"q{suffix}"
    if suffix == ".jsonl":
        src.write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS), "utf-8")
    elif suffix == ".csv":
        src.write_text("问题\n" + "\n".join(QUESTIONS) + "\n", encoding="gb18030")
    else:
        book = openpyxl.Workbook()
        for row in [["Question"], *([q] for q in QUESTIONS)]:
            book.active.append(row)
        book.save(src)
    out, message = answer_file(src, assistant, out_dir=tmp_path)
    assert out.endswith(f"q-answers{suffix}") and message.startswith("已处理")
    data = open(out, "rb").read()
    assert "353平方公里".encode() in data or suffix == ".xlsx"


def test_problems_are_messages_not_exceptions(assistant, tmp_path):
    assert answer_file(None, assistant)[0] is None
    cases = {
        "a.docx": (b"x", "不支持的文件"),
        "empty.csv": (b"", "文件是空的"),
        "cols.csv": ("编号,内容\n1,x\n".encode(), "没有问题列"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        out, message = answer_file(tmp_path / name, assistant, out_dir=tmp_path)
        assert out is None and message.startswith("未处理：") and expected in message, name
    out, message = answer_file(tmp_path / "gone.csv", assistant, out_dir=tmp_path)
    assert out is None and "文件不存在或无法读取" in message


def test_tab_builds_inside_blocks(assistant):
    with gr.Blocks() as demo:
        with gr.Tab("批量问答"):
            build_batch_tab(lambda: assistant)
    labels = {getattr(b, "label", None) for b in demo.blocks.values()}
    assert {"下载答案", "问题文件（≤ 10 MB）"} <= labels
    [event] = [d for d in demo.fns.values() if d.name == "run"]
    assert event.concurrency_limit == 1
