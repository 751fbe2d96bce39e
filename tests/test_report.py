"""Evaluation reports: terminal table, self-contained HTML, Markdown with a chart."""

from __future__ import annotations

import base64
import re

import pytest

from qa.report import format_table, table_rows, write_report

SUMMARY = {
    "questions": 5,
    "errors": 1,
    "answerable": 3,
    "unanswerable": 1,
    "with_evidence": 3,
    "timed": 4,
    "hit@1": 1 / 3,
    "hit@5": 2 / 3,
    "mrr@10": 0.5,
    "answer_accuracy": 2 / 3,
    "refusal_accuracy": None,
    "false_refusals": 0.0,
    "latency_p50": 0.0123,
    "latency_p95": 0.5,
}
MISSES = [
    {
        "id": "x<1>",
        "question": "<script>alert(1)</script>是什么？",
        "why": "wrong answer",
        "expected": "A & B",
        "evidence": "证据 <b>",
        "got": "错[1]",
        "rank": None,
        "passage": "段落 | 有竖线\n第二行",
        "passage_source": "a.md",
    }
]
PNG = b"\x89PNG\r\n\x1a\n"


def test_table_values():
    rows = {label.split(" (")[0]: (value, n) for label, value, n in table_rows(SUMMARY)}
    assert rows["hit@1"] == ("33.3%", "3")
    assert rows["MRR@10"] == ("0.500", "3")
    assert rows["refusal accuracy"] == ("n/a", "1")
    assert rows["false refusals"] == ("0.0%", "3")
    assert rows["latency p50"] == ("12.3 ms", "4")
    text = format_table(SUMMARY)
    assert text.splitlines()[0].split() == ["metric", "value", "n"]
    assert "5 questions, 1 errors" in text


def test_html_report_is_self_contained_and_escaped(tmp_path):
    path = write_report(tmp_path / "r.html", SUMMARY, MISSES, [0.01, 0.02, None], "dev <set>")
    page = path.read_text("utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A &amp; B" in page and "x&lt;1&gt;" in page and "dev &lt;set&gt;" in page
    [data] = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(data).startswith(PNG)
    assert "33.3%" in page and "Misses (1)" in page
    assert not list(tmp_path.glob("*.png"))


def test_markdown_report_with_chart_beside_it(tmp_path):
    path = write_report(tmp_path / "r.md", SUMMARY, MISSES, [], "dev")
    text = path.read_text("utf-8")
    assert "![metrics chart](r.png)" in text
    assert (tmp_path / "r.png").read_bytes().startswith(PNG)
    assert "| hit@1 (evidence in citation 1) | 33.3% | 3 |" in text
    assert "段落 | 有竖线 第二行" in text  # one line per field
    assert "### 1. x<1> — wrong answer" in text


def test_report_format_by_extension(tmp_path):
    with pytest.raises(ValueError, match=".html 或 .md"):
        write_report(tmp_path / "r.pdf", SUMMARY, [])
