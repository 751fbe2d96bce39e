"""The command line: ``python -m qa index`` and ``ask``, in-process and as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from embeddings import FakeEncoder  # noqa: E402
from qa import build_index  # noqa: E402
from qa.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

INDUSTRY = """# 慈溪市工业发展报告

## 一、总体情况

2020年，慈溪市规上工业总产值达到2450亿元，同比增长8.5%。全市拥有规上企业2300家。

## 二、重点项目

三年来，累计引进总投资亿元以上产业项目47个，建成投用5亿元以上项目18个。
"""
BAY = """前湾新区建设情况

前湾新区位于杭州湾南岸，规划面积604平方公里，是浙江省四大新区之一。
"""
QUESTION = "前湾新区规划面积多大？"
RECORD_KEYS = {
    "id", "question", "answer", "short_answer", "found", "confidence", "reason",
    "mode", "notice", "sentences", "citations",
}  # fmt: skip
CITATION_KEYS = {
    "n", "source", "title", "section", "text", "score", "highlights",
    "page", "page_end", "location", "date",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("shared_tokenizer")  # one jieba for the module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "industry.md").write_text(INDUSTRY, encoding="utf-8")
    (folder / "bay.txt").write_text(BAY, encoding="utf-8")
    (folder / "junk.txt").write_bytes(b"\x00\x00\x00")
    return folder


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx") / "index"
    assert main(["index", "--corpus", str(corpus), "--index", str(folder), "--model", "fake"]) == 0
    return folder


def check_record(out: str, question: str) -> dict:
    lines = out.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON object on stdout"
    record = json.loads(lines[0])
    assert set(record) == RECORD_KEYS
    assert record["question"] == question
    assert isinstance(record["found"], bool)
    assert record["citations"], "citations are listed even without an answer"
    for n, c in enumerate(record["citations"], start=1):
        assert set(c) == CITATION_KEYS
        assert c["n"] == n
        assert c["source"] in {"industry.md", "bay.txt"}
        assert isinstance(c["score"], float)
    return record


def test_index_command(corpus, tmp_path, capsys):
    rc = main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--model", "fake"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "indexed 2 documents" in captured.out and "model fake" in captured.out
    assert "skipped junk.txt" in captured.err
    assert (tmp_path / "i" / "manifest.json").is_file()
    subjects = json.loads((tmp_path / "i" / "subjects.json").read_text("utf-8"))["subjects"]
    assert set(subjects) == {"industry.md", "bay.txt"}  # learned at index time, once


def test_ask_json(index, capsys):
    capsys.readouterr()
    rc = main(["ask", "--index", str(index), "--model", "fake", QUESTION, "--json", "--id", "q7"])
    captured = capsys.readouterr()
    assert rc == 0
    record = check_record(captured.out, QUESTION)
    assert record["id"] == "q7"
    assert record["found"] is True
    assert "604平方公里" in record["answer"] and "[1]" in record["answer"]
    first = record["citations"][0]
    assert first["source"] == "bay.txt" and "604" in first["text"]
    assert first["title"] == "前湾新区建设情况"
    assert "Traceback" not in captured.err


def test_ask_uses_the_index_model_by_default(index, capsys):
    capsys.readouterr()
    assert main(["ask", "--index", str(index), QUESTION, "--json"]) == 0
    record = check_record(capsys.readouterr().out, QUESTION)
    assert record["id"] is None and record["found"] is True


def test_ask_text_output(index, capsys):
    capsys.readouterr()
    assert main(["ask", "--index", str(index), "--model", "fake", QUESTION]) == 0
    out = capsys.readouterr().out
    assert "604平方公里" in out and "来源：" in out and "[1] bay.txt" in out


def test_ask_not_found_json(index, capsys):
    capsys.readouterr()
    question = "北京冬奥会在哪一年举办？"
    assert main(["ask", "--index", str(index), "--model", "fake", question, "--json"]) == 0
    record = check_record(capsys.readouterr().out, question)
    assert record["found"] is False and "[1]" not in record["answer"]


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_a_clear_error(index, capsys, question):
    capsys.readouterr()
    rc = main(["ask", "--index", str(index), "--model", "fake", question, "--json"])
    captured = capsys.readouterr()
    assert rc != 0
    assert "问题为空" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_too_long_question_is_a_clear_error(index, capsys):
    capsys.readouterr()
    rc = main(["ask", "--index", str(index), "--model", "fake", "慈" * 501])
    captured = capsys.readouterr()
    assert rc != 0 and "问题太长" in captured.err and "Traceback" not in captured.err


def test_ask_with_a_different_model_is_a_clear_error(corpus, tmp_path, capsys):
    build_index(corpus, tmp_path / "other", FakeEncoder(dim=64, name="other-model"))
    rc = main(["ask", "--index", str(tmp_path / "other"), "--model", "fake", QUESTION])
    captured = capsys.readouterr()
    assert rc != 0
    assert captured.err.startswith("错误：") and rc == 4
    assert "'other-model'" in captured.err and "'fake'" in captured.err
    assert "python -m qa index" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_ask_without_an_index_is_a_clear_error(tmp_path, capsys):
    rc = main(["ask", "--index", str(tmp_path / "none"), "--model", "fake", QUESTION])
    err = capsys.readouterr().err
    assert rc != 0 and "没有索引" in err and "Traceback" not in err


def test_index_missing_corpus_is_a_clear_error(tmp_path, capsys):
    rc = main(["index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"),
               "--model", "fake"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 3 and "找不到文档文件夹" in err and "Traceback" not in err


def _run(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """``python -m qa index`` then ``ask --json`` (good and empty question), for real."""
    index = str(tmp_path_factory.mktemp("sub") / "index")
    built = _run("index", "--corpus", str(corpus), "--index", index, "--model", "fake")
    asked = _run("ask", "--index", index, "--model", "fake", QUESTION, "--json")
    empty = _run("ask", "--index", index, "--model", "fake", "", "--json")
    return built, asked, empty


def test_subprocess_index_and_ask(runs):
    built, asked, empty = runs
    assert built.returncode == 0, built.stderr
    assert "indexed 2 documents" in built.stdout
    assert asked.returncode == 0, asked.stderr
    record = check_record(asked.stdout, QUESTION)
    assert record["found"] is True and "604" in record["answer"]
    assert empty.returncode == 2 and "问题为空" in empty.stderr
    assert "Traceback" not in asked.stderr + empty.stderr + built.stderr
    assert empty.stdout == ""


def test_subprocess_is_quiet_without_verbose(runs):
    _, asked, _ = runs
    assert asked.returncode == 0
    assert "DEBUG" not in asked.stderr and "Building prefix dict" not in asked.stderr


def test_a_missing_question_file_is_named_in_chinese(tmp_path, capsys):
    rc = main(["batch", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert rc != 0 and f"找不到文件或文件夹：{tmp_path / 'missing.csv'}" in err
    assert "Errno" not in err and "No such file" not in err


def test_output_closed_early_stops_quietly(index):
    """``python -m qa ask … | head -1``: the reader leaves; no 内部错误, no traceback."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    args = ["ask", "--index", str(index), "--model", "fake", QUESTION, "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=120) == 141
    assert "内部错误" not in err and "Traceback" not in err and "BrokenPipe" not in err
