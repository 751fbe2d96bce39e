"""The assistant through its public API: answers with citations, refusals, managing
documents, question checks. FakeEncoder and a tiny Chinese corpus written per test run."""

from __future__ import annotations

import json
import re

import pytest

from embeddings import FakeEncoder
from qa import (
    NOT_FOUND,
    Answer,
    Assistant,
    QuestionError,
    UnreadableDocument,
    check_history,
    check_question,
)

DOCS = {
    "industry.md": """# 慈溪市工业发展报告

## 一、总体情况

2020年，慈溪市规上工业总产值达到2450亿元，同比增长8.5%。全市拥有规上企业2300家，其中高新技术企业560家。

## 二、重点项目

三年来，累计引进总投资亿元以上产业项目47个，建成投用5亿元以上项目18个。
""",
    "bay.txt": """前湾新区建设情况

前湾新区位于杭州湾南岸，规划面积604平方公里，是浙江省四大新区之一。

新区重点发展汽车制造、生命健康和智能家电等产业，2020年新区工业产值突破1500亿元。
""",
}
FARM = """现代农业开发区

现代农业开发区以蔬菜和花卉种植为主，建成高标准农田12万亩。

开发区通过“最多跑一次”改革，办事时间缩短到3个工作日。
"""
TITLES = {
    "industry.md": "慈溪市工业发展报告",
    "bay.txt": "前湾新区建设情况",
    "farm.txt": "现代农业开发区",
}


def write_corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


pytestmark = pytest.mark.usefixtures("shared_tokenizer")  # one jieba for the module


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("assistant")
    corpus = write_corpus(root / "corpus")
    return Assistant.open(root / "index", corpus=corpus, model=FakeEncoder())


def check_citations(answer: Answer) -> None:
    assert answer.citations, "the passages consulted are always listed"
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.source in TITLES and c.title == TITLES[c.source]
        assert isinstance(c.section, str) and c.text
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert all(1 <= m <= len(answer.citations) for m in markers)


@pytest.mark.parametrize(
    ("question", "needle", "source", "section"),
    [
        ("2020年慈溪市规上工业总产值是多少？", "2450亿元", "industry.md", "一、总体情况"),
        ("累计引进了多少个亿元以上产业项目？", "47个", "industry.md", "二、重点项目"),
        ("前湾新区规划面积多大？", "604平方公里", "bay.txt", "前湾新区建设情况"),
    ],
)
def test_answerable_number_question(assistant, question, needle, source, section):
    answer = assistant.ask(question)
    assert answer.found is True
    assert answer.question == question
    assert needle in answer.answer
    assert answer.answer.endswith("[1]")
    check_citations(answer)
    first = answer.citations[0]
    assert first.source == source and needle in first.text
    assert first.section.endswith(section)
    assert first.highlights and all(needle in first.text[a:b] for a, b in first.highlights)
    assert answer.sentences[0].text in first.text  # extractive: quoted from the source
    assert answer.short_answer == needle and answer.answer.startswith(needle)
    assert len(answer.citations) <= assistant.settings.top_k


def test_section_path_of_a_markdown_citation(assistant):
    answer = assistant.ask("2020年慈溪市规上工业总产值是多少？")
    assert answer.citations[0].section == "慈溪市工业发展报告 > 一、总体情况"


def test_question_about_something_absent(assistant):
    answer = assistant.ask("北京冬奥会在哪一年举办？")
    assert answer.found is False
    assert answer.answer.startswith(NOT_FOUND) and answer.reason
    assert "[" not in answer.answer
    check_citations(answer)
    assert all(not c.highlights for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    ["2035年慈溪市规上工业总产值是多少？", "1999年前湾新区工业产值多少？"],
)
def test_question_naming_an_absent_year_is_refused(assistant, question):
    answer = assistant.ask(question)
    assert answer.found is False and answer.answer.startswith(NOT_FOUND)
    assert question[:4] in answer.reason  # it says which year is missing
    # the same question without the wrong year is answered
    assert assistant.ask(question[5:]).found is True


def test_ask_many_matches_ask(assistant):
    questions = ["前湾新区规划面积多大？", "北京冬奥会在哪一年举办？"]
    many = assistant.ask_many(questions)
    assert [a.found for a in many] == [True, False]
    assert [a.answer for a in many] == [assistant.ask(q).answer for q in questions]


def test_answer_to_record_is_json_ready(assistant):
    record = assistant.ask("前湾新区规划面积多大？").to_record("q1")
    assert set(record) == {
        "id", "question", "answer", "short_answer", "found", "confidence", "reason",
        "mode", "notice", "sentences", "citations",
    }  # fmt: skip
    assert record["id"] == "q1"
    assert set(record["citations"][0]) == {
        "n", "source", "title", "section", "text", "score", "highlights",
        "page", "page_end", "location", "date",
    }  # fmt: skip
    json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", None, "慈" * 501])
def test_bad_questions_raise_question_error(assistant, question):
    with pytest.raises(QuestionError):
        assistant.ask(question)
    with pytest.raises(QuestionError):
        assistant.ask_many(["前湾新区规划面积多大？", question])


def test_check_question():
    assert check_question("  前湾新区在哪？ \n") == "前湾新区在哪？"
    assert check_question("慈" * 500) == "慈" * 500
    with pytest.raises(QuestionError, match="问题为空"):
        check_question(" ")
    with pytest.raises(QuestionError, match="问题太长"):
        check_question("慈" * 501)
    assert issubclass(QuestionError, ValueError)


def test_check_history():
    assert check_history(None) == []
    assert check_history("2017年工业总产值是多少？") == [
        "2017年工业总产值是多少？"
    ]  # not its chars
    assert check_history(("甲？", " ", "<b>乙</b>？")) == ["甲？", "乙？"]
    for bad in (7, {"q": "甲？"}, ["甲？", 3], [None]):
        with pytest.raises(QuestionError, match="对话历史"):
            check_history(bad)


@pytest.mark.parametrize(
    "typed, plain",
    [
        ("\x1b[31m前湾新区在哪？\x1b[0m", "前湾新区在哪？"),  # a terminal's colour codes
        ("<script>alert(1)</script>前湾新区在哪？", "前湾新区在哪？"),
        ("<b>前湾新区</b>在\u202e哪\x00？", "前湾新区在哪？"),  # tags, format and control chars
        ("面积 < 100 平方公里吗？", "面积 < 100 平方公里吗？"),  # a bare < is text
    ],
)
def test_a_question_is_read_as_plain_text(typed, plain):
    """Pasted markup and escape codes are no words of the question (\x1b[31m would be read as
    a place named m); only what is left is asked, and nothing left is an empty question."""
    assert check_question(typed) == plain
    with pytest.raises(QuestionError, match="问题为空"):
        check_question("\x07<br/>\x1b[0m")


def test_add_files_and_remove_document(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    assistant = Assistant.open(index, corpus=corpus, model=FakeEncoder())
    question = "现代农业开发区建成高标准农田多少亩？"
    assert sorted(d["source"] for d in assistant.documents()) == ["bay.txt", "industry.md"]
    assert assistant.ask(question).found is False

    upload = tmp_path / "uploads" / "tmp-upload-1.txt"
    upload.parent.mkdir()
    upload.write_text(FARM, encoding="utf-8")
    added = assistant.add_files([upload], names=["farm.txt"])
    assert added >= 1
    docs = {d["source"]: d for d in assistant.documents()}
    assert sorted(docs) == ["bay.txt", "farm.txt", "industry.md"]
    assert docs["farm.txt"] == {"source": "farm.txt", "title": "现代农业开发区", "chunks": added}
    answer = assistant.ask(question)
    assert answer.found and "12万亩" in answer.answer
    assert answer.citations[0].source == "farm.txt"

    # saved: reopening the index as it is shows the added document
    reopened = Assistant.open(index, corpus=None, model=FakeEncoder())
    assert "farm.txt" in {d["source"] for d in reopened.documents()}

    # re-adding the same name replaces it instead of duplicating chunks
    assistant.add_files([upload], names=["farm.txt"])
    assert {d["source"]: d["chunks"] for d in assistant.documents()}["farm.txt"] == added

    assert assistant.remove_document("farm.txt") == added
    assert sorted(d["source"] for d in assistant.documents()) == ["bay.txt", "industry.md"]
    after = assistant.ask(question)
    assert after.found is False
    assert all(c.source != "farm.txt" for c in after.citations)
    assert assistant.remove_document("farm.txt") == 0
    reopened = Assistant.open(index, corpus=None, model=FakeEncoder())
    assert "farm.txt" not in {d["source"] for d in reopened.documents()}


def test_add_unreadable_file_changes_nothing(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    assistant = Assistant.open(tmp_path / "index", corpus=corpus, model=FakeEncoder())
    before = assistant.documents()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(UnreadableDocument):
        assistant.add_files([bad])
    assert assistant.documents() == before


def test_open_uses_index_model_and_refuses_other(tmp_path):
    from qa import IndexMismatch

    corpus = write_corpus(tmp_path / "corpus")
    Assistant.open(tmp_path / "index", corpus=corpus, model=FakeEncoder())
    again = Assistant.open(tmp_path / "index", corpus=None, model="fake")
    assert again.encoder.name == "fake" and again.ask("前湾新区规划面积多大？").found
    with pytest.raises(IndexMismatch, match="other"):
        Assistant.open(tmp_path / "index", corpus=None, model=FakeEncoder(name="other"))


def test_long_sentence_trimmed_around_the_clauses_the_question_names():
    from qa.answering import trim_sentence

    sentence = (
        "2017年全市工业总产值达到4219.2亿元，其中规模以上企业产值2721.4亿元，"
        "规模以上企业口径从2011年开始调整，分别是2003年（1002.8亿元、334.9亿元）的4.2倍。"
    )
    weights = {"工业总产值": 2.0, "2003": 3.0}
    out = trim_sentence(sentence, weights, 60, wants_number=True, numbers=("2003",))
    assert len(out) <= 61
    assert "2003年（1002.8亿元" in out
    assert "工业总产值" in out
    assert "…" in out  # the clause about 2011 is left out


def test_concurrent_batches_get_the_answers_asked_alone(assistant):
    """The micro-batcher runs two ask_many calls at once: no shared state between them."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [
        "2020年慈溪市规上工业总产值是多少？",
        "前湾新区规划面积多少？",
        "全市拥有多少家高新技术企业？",
        "火星上有多少人？",
        "建成投用5亿元以上项目多少个？",
        "新区重点发展哪些产业？",
    ]
    alone = [(a.answer, a.confidence) for a in assistant.ask_many(questions)]
    batches = [questions[k:] + questions[:k] for k in range(len(questions))] * 3
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(assistant.ask_many, batches))
    for k, answers in enumerate(results):
        shift = k % len(questions)
        want = alone[shift:] + alone[:shift]
        assert [(a.answer, a.confidence) for a in answers] == want
