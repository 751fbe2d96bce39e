"""Feedback on answers: the records, the capped append-only file, and ``qa eval`` on it."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest

from embeddings import FakeEncoder
from qa import Assistant
from qa.cli import main
from qa.feedback import (
    HELPFUL,
    WRONG,
    FeedbackError,
    FeedbackFull,
    append_feedback,
    feedback_path,
    feedback_record,
    read_feedback,
)
from qa.records import Answer, Citation

DOC = "# 新区概况\n\n前湾新区位于杭州湾南岸，规划面积604平方公里。\n\n新区以汽车制造为主。\n"
CITATION = Citation(1, "bay.md", "新区概况", "新区概况", "规划面积604平方公里。", 0.9, ((0, 12),))
ANSWER = Answer("规划面积多大？", "规划面积604平方公里。[1]", True, (CITATION,), "规划面积多大？")
REFUSAL = Answer("新区的市花是什么？", "资料中没有找到能回答这个问题的内容。", False, (CITATION,))
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_records_hold_what_was_shown_and_gold_for_helpful_replies():
    wrong = feedback_record(ANSWER, WRONG, "  数字不对 ", now=NOW)
    assert wrong["verdict"] == WRONG and wrong["comment"] == "数字不对"
    assert wrong["question"] == "规划面积多大？" and wrong["answer"] == ANSWER.answer
    assert wrong["citations"][0]["source"] == "bay.md" and wrong["time"].startswith("2026-01-02")
    assert "answers" not in wrong and "answerable" not in wrong
    helpful = feedback_record(ANSWER, HELPFUL, by="editor")
    assert helpful["answers"] == ["规划面积604平方公里。"] and helpful["answerable"] is True
    assert helpful["evidence"] == "规划面积604平方公里。" and helpful["by"] == "editor"
    assert feedback_record(REFUSAL, HELPFUL, by="editor")["answerable"] is False
    vote = feedback_record(ANSWER, HELPFUL)  # a visitor's 有帮助 is no reference answer
    assert vote["by"] == "" and "answers" not in vote and "answerable" not in vote
    with pytest.raises(FeedbackError, match="意见太长"):
        feedback_record(ANSWER, WRONG, "慈" * 501)
    with pytest.raises(FeedbackError):
        feedback_record(ANSWER, "maybe")


def test_append_is_line_per_record_thread_safe_and_capped(tmp_path):
    path = feedback_path(tmp_path / "index")
    assert path == tmp_path / "index-feedback.jsonl"  # beside the index folder, not inside
    record = feedback_record(ANSWER, WRONG, now=NOW)
    threads = [threading.Thread(target=append_feedback, args=(path, record)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_feedback(path) == [record] * 20
    size = path.stat().st_size
    with pytest.raises(FeedbackFull):
        append_feedback(path, record, max_bytes=size + 10)
    assert path.stat().st_size == size  # nothing half-written
    with path.open("a", encoding="utf-8") as f:
        f.write("{broken\n")
    assert len(read_feedback(path)) == 20
    assert read_feedback(tmp_path / "missing.jsonl") == []


def test_qa_eval_reads_the_feedback_file(tmp_path, capsys, shared_tokenizer):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bay.md").write_text(DOC, encoding="utf-8")
    assistant = Assistant.open(tmp_path / "idx", corpus=docs, model=FakeEncoder())
    path = feedback_path(tmp_path / "idx")
    good = assistant.ask("前湾新区规划面积多大？")
    assert good.found
    append_feedback(path, feedback_record(good, HELPFUL, by="editor"))
    append_feedback(path, feedback_record(good, HELPFUL))  # a visitor's vote: no gold
    append_feedback(path, feedback_record(good, WRONG, "不对"))
    report = tmp_path / "r.md"
    args = ["--index", str(tmp_path / "idx"), "--corpus", str(docs), "--model", "fake"]
    assert main(["eval", str(path), "-o", str(report), *args]) == 0
    out = capsys.readouterr().out
    assert "left out 2 feedback rows" in out and "100.0%" in out
    assert json.loads(path.read_text("utf-8").splitlines()[0])["verdict"] == HELPFUL
