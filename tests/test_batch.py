"""Batch question files: every input and output format, errors, dedupe, resume, CLI."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest

from embeddings import FakeEncoder
from qa import Assistant
from qa.batch import answer_rows, partial_path, run_batch
from qa.cli import main
from qa.tabular import FLAT_COLUMNS, Row, decode, read_table

A_MD = """# 慈溪概况

## 经济

2017年慈溪市级实现社会消费品零售总额477.83亿元，增长11.6%。

## 人口

慈溪市常住人口约183万人。
"""
B_TXT = "杭州湾新区\n\n杭州湾新区位于慈溪北部，规划面积353平方公里。新区重点发展汽车产业。\n"
Q_SALES = "2017年慈溪社会消费品零售总额是多少？"
Q_AREA = "杭州湾新区规划面积多大？"
Q_PEOPLE = "慈溪常住人口有多少？"
QUESTIONS = [Q_SALES, Q_AREA, Q_PEOPLE]
RECORD_KEYS = [
    "id", "question", "answer", "short_answer", "found", "confidence", "reason",
    "mode", "notice", "sentences", "citations",
]  # fmt: skip
CITATION_KEYS = [
    "n", "source", "title", "section", "text", "score", "highlights",
    "page", "page_end", "location", "date",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb")
    (root / "docs").mkdir()
    (root / "docs" / "a.md").write_text(A_MD, encoding="utf-8")
    (root / "docs" / "b.txt").write_text(B_TXT, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def assistant(corpus):
    return Assistant.open(corpus / "idx", corpus=corpus / "docs", model=FakeEncoder())


class Spy:
    """An assistant that records what it is asked and can be made to fail like Ctrl-C."""

    def __init__(self, inner: Assistant, interrupt_on_call: int | None = None):
        self.inner, self.calls, self.interrupt_on_call = inner, [], interrupt_on_call

    def ask_many(self, questions, histories=None):
        self.calls.append(list(questions))
        if len(self.calls) == self.interrupt_on_call:
            raise KeyboardInterrupt
        return self.inner.ask_many(questions, histories)

    def ask(self, question, history=()):
        return self.ask_many([question], [history])[0]

    @property
    def asked(self):
        return [q for call in self.calls for q in call]


# --- writing inputs and reading outputs ----------------------------------------------------


def write_input(path, rows: list[dict]):
    """Write ``rows`` (dicts with the same keys) as a question file of ``path``'s format."""
    if path.suffix == ".txt":
        path.write_text("".join(r["question"] + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(rows[0]))
        for r in rows:
            sheet.append(list(r.values()))
        book.save(path)
    return path


def read_output(path) -> list[dict]:
    """Rows of an answers file as dicts (JSONL records, or CSV/XLSX rows)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


INPUTS = [".txt", ".jsonl", ".csv", ".xlsx"]
OUTPUTS = [".jsonl", ".csv", ".xlsx"]


@pytest.mark.parametrize("out_suffix", OUTPUTS)
@pytest.mark.parametrize("in_suffix", INPUTS)
def test_round_trip_every_format(assistant, tmp_path, in_suffix, out_suffix):
    rows = [{"id": f"q{i}", "question": q, "topic": f"t{i}"} for i, q in enumerate(QUESTIONS)]
    src = write_input(tmp_path / f"in{in_suffix}", rows)
    out = tmp_path / f"out{out_suffix}"
    stats = run_batch(assistant, src, out, progress=False)
    assert (stats.total, stats.written, stats.asked, stats.errors) == (3, 3, 3, 0)
    got = read_output(out)
    expected_ids = ["1", "2", "3"] if in_suffix == ".txt" else ["q0", "q1", "q2"]
    assert [str(r["id"]) for r in got] == expected_ids
    assert [r["question"] for r in got] == QUESTIONS
    assert "477.83亿元" in got[0]["answer"] and "353平方公里" in got[1]["answer"]
    if in_suffix != ".txt":  # carried-through column
        assert [r["topic"] for r in got] == ["t0", "t1", "t2"]
    if out_suffix == ".jsonl":
        assert list(got[0])[: len(RECORD_KEYS)] == RECORD_KEYS and "error" not in got[0]
        assert list(got[0]["citations"][0]) == CITATION_KEYS
        assert got[0]["found"] is True and got[0]["citations"][0]["source"] == "a.md"
    else:
        assert list(got[0])[: len(FLAT_COLUMNS)] == list(FLAT_COLUMNS)
        assert [r["source"] for r in got] == ["a.md", "b.txt", "a.md"]
        assert str(got[0]["found"]).upper() == "TRUE"
        first = got[0]["sources"].splitlines()[0]
        assert first.startswith("[1] a.md · 慈溪概况 > 经济: ")
        assert "477.83亿元" in first
    assert not list(tmp_path.glob("*.partial.jsonl"))


def test_csv_output_has_bom_and_ids_default_to_row_numbers(assistant, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("Question,备注\n" + f"{Q_SALES},甲\n{Q_AREA},乙\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    run_batch(assistant, src, out, progress=False)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    got = read_output(out)
    assert [r["id"] for r in got] == ["2", "3"]  # sheet rows: the header is row 1
    assert [r["备注"] for r in got] == ["甲", "乙"]


def test_gb18030_csv_with_quoted_commas_and_newlines(tmp_path):
    text = '问题,id,note\n"慈溪，人口,有多少？",a,"line1\nline2"\n'
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gb18030"))
    table = read_table(path)
    assert table.columns == ["note"]
    [row] = table.rows
    assert (row.id, row.question, row.fields, row.error) == (
        "a",
        "慈溪，人口,有多少？",
        {"note": "line1\nline2"},
        None,
    )


def test_bom_csv_and_tab_separated(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "question\tid\n你好吗\t7\n".encode())
    [row] = read_table(path).rows
    assert (row.id, row.question) == ("7", "你好吗")


def test_decode_keeps_mostly_utf8_and_marks_it_lossy():
    assert decode("慈溪".encode()) == ("慈溪", "utf-8", False)
    assert decode("慈溪".encode("gb18030")) == ("慈溪", "gb18030", False)
    text, encoding, lossy = decode(("慈溪" * 50).encode() + b"\xff")
    assert (encoding, lossy, text.endswith("\ufffd")) == ("utf-8", True, True)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_missing_question_column_is_a_clear_error(tmp_path, suffix):
    path = write_input(tmp_path / f"bad{suffix}", [{"id": 1, "query": "x"}])
    with pytest.raises(ValueError, match="question 或 问题.*id、query"):
        read_table(path)


def test_unsupported_input_and_output(assistant, tmp_path):
    with pytest.raises(ValueError, match="不支持"):
        read_table(tmp_path / "q.docx")
    src = write_input(tmp_path / "in.txt", [{"question": Q_SALES}])
    with pytest.raises(ValueError, match="不支持的输出文件"):
        run_batch(assistant, src, tmp_path / "out.txt", progress=False)


def test_bad_rows_become_error_records(assistant, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "ok", "question": Q_SALES}, ensure_ascii=False).encode(),
        json.dumps({"id": "empty", "question": "  "}).encode(),
        json.dumps({"id": "long", "question": "问" * 501}, ensure_ascii=False).encode(),
        b'{"id": "broken", "question": ',
        json.dumps({"id": "noq", "text": "x"}).encode(),
        b'{"id": "bytes", "question": "\xff\xfe\xe6\x85"}',
        b"[1, 2]",
        json.dumps({"question": Q_AREA}, ensure_ascii=False).encode(),
    ]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    stats = run_batch(assistant, src, out, progress=False)
    got = read_output(out)
    assert [r["id"] for r in got] == ["ok", "empty", "long", 4, "noq", "bytes", 7, 8]
    assert (stats.written, stats.errors) == (8, 6)
    errors = {r["id"]: r["error"] for r in got if "error" in r}
    assert "问题为空" in errors["empty"]
    assert "问题太长（501 字）" in errors["long"]
    assert "第 4 行不是有效的 JSON" in errors[4]
    assert "没有 question 字段" in errors["noq"]
    assert "无法解码" in errors["bytes"]
    assert "不是 JSON 对象" in errors[7]
    bad = next(r for r in got if r["id"] == "empty")
    assert bad == {
        "id": "empty",
        "question": "  ",
        "answer": "",
        "found": False,
        "citations": [],
        "error": bad["error"],
    }
    assert got[0]["found"] and got[-1]["found"]


def test_txt_skips_blank_lines_and_numbers_by_line(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(f"{Q_SALES}\n\n  \r\n{Q_AREA}\r\n", encoding="utf-8")
    assert [(r.id, r.question) for r in read_table(path).rows] == [(1, Q_SALES), (4, Q_AREA)]


def test_carried_columns_do_not_clobber_record_keys(assistant, tmp_path):
    rows = [{"question": Q_SALES, "answer": "gold", "source": "x.md", "extra": [1, 2]}]
    src = write_input(tmp_path / "in.jsonl", rows)
    run_batch(assistant, src, tmp_path / "out.jsonl", progress=False)
    [got] = read_output(tmp_path / "out.jsonl")
    assert "477.83" in got["answer"]
    # the same names in every format: "source" is also an output column of CSV/XLSX
    assert (got["input_answer"], got["input_source"], got["extra"]) == ("gold", "x.md", [1, 2])
    run_batch(assistant, src, tmp_path / "out.csv", progress=False)
    [flat] = read_output(tmp_path / "out.csv")
    assert (flat["input_answer"], flat["input_source"], flat["extra"]) == ("gold", "x.md", "[1, 2]")
    assert flat["source"] == "a.md"


def test_duplicates_are_asked_once(assistant, tmp_path):
    questions = [Q_SALES, Q_AREA, f" {Q_SALES} ", Q_PEOPLE, Q_AREA]
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in questions])
    spy = Spy(assistant)
    stats = run_batch(spy, src, tmp_path / "out.jsonl", chunk_size=2, progress=False)
    assert sorted(spy.asked) == sorted([Q_SALES, Q_AREA, Q_PEOPLE])
    assert spy.calls == [[Q_SALES, Q_AREA], [Q_PEOPLE]]  # chunks of 2 rows, answers reused
    got = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert got[2]["answer"] == got[0]["answer"] and got[4]["answer"] == got[1]["answer"]
    assert (stats.asked, stats.written) == (3, 5)


def test_a_failing_batch_falls_back_to_single_questions(assistant):
    class Broken(Spy):
        def ask_many(self, questions, histories=None):
            if len(questions) > 1:
                raise RuntimeError("boom")
            if questions == [Q_AREA]:
                raise RuntimeError("area failed")
            return self.inner.ask_many(questions, histories)

    rows = [Row(1, Q_SALES), Row(2, Q_AREA)]
    [records] = list(answer_rows(Broken(assistant), rows))
    assert records[0]["found"] and "error" not in records[0]
    assert records[1]["error"] == "回答失败：area failed"


@pytest.mark.parametrize("suffix", OUTPUTS)
def test_resume_after_interruption(assistant, tmp_path, suffix):
    questions = [f"{q}（{i}）" for i in range(3) for q in QUESTIONS]  # 9 distinct
    rows = [{"question": q, "k": i} for i, q in enumerate(questions)]
    src = write_input(tmp_path / "in.csv", rows)
    out = tmp_path / f"out{suffix}"
    run_batch(assistant, src, tmp_path / f"fresh{suffix}", chunk_size=4, progress=False)

    spy = Spy(assistant, interrupt_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        run_batch(spy, src, out, chunk_size=4, progress=False)
    written = partial_path(out) if suffix == ".xlsx" else out
    assert written.exists()
    if suffix == ".jsonl":
        assert len(read_output(out)) == 4  # the first chunk, written as it was produced

    spy = Spy(assistant)
    seen = []
    stats = run_batch(spy, src, out, True, 4, progress=False, on_progress=lambda *a: seen.append(a))
    assert spy.asked == questions[4:]
    assert (stats.resumed, stats.written) == (4, 5)
    assert seen == [(8, 9), (9, 9)]
    assert read_output(out) == read_output(tmp_path / f"fresh{suffix}")
    assert not partial_path(out).exists()

    spy = Spy(assistant)  # resuming a finished run answers nothing
    run_batch(spy, src, out, resume=True, progress=False)
    assert spy.asked == [] and read_output(out) == read_output(tmp_path / f"fresh{suffix}")


def test_resume_drops_an_unfinished_line_and_refuses_other_output(assistant, tmp_path):
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in QUESTIONS])
    out = tmp_path / "out.jsonl"
    run_batch(assistant, src, out, progress=False)
    lines = out.read_text("utf-8").splitlines(keepends=True)
    out.write_text(lines[0] + lines[1][:30], encoding="utf-8")  # killed mid-line
    spy = Spy(assistant)
    run_batch(spy, src, out, resume=True, progress=False)
    assert spy.asked == QUESTIONS[1:]
    assert [r["id"] for r in read_output(out)] == [1, 2, 3]

    other = write_input(tmp_path / "other.txt", [{"question": q} for q in QUESTIONS[::-1]])
    with pytest.raises(ValueError, match="不一致"):
        run_batch(assistant, other, out, resume=True, progress=False)


def test_xlsx_text_is_never_a_formula(assistant, tmp_path):
    src = write_input(tmp_path / "in.jsonl", [{"question": "=1+1", "note": "=A1"}])
    run_batch(assistant, src, tmp_path / "out.xlsx", progress=False)
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    assert (sheet["B2"].value, sheet["B2"].data_type) == ("=1+1", "s")  # question
    assert read_output(tmp_path / "out.xlsx")[0]["note"] == "=A1"
    assert sheet.cell(2, len(FLAT_COLUMNS) + 1).data_type == "s"


def cli_args(corpus):
    return ["--index", str(corpus / "idx"), "--corpus", str(corpus / "docs"), "--model", "fake"]


def test_cli_batch(corpus, tmp_path, capsys):
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in QUESTIONS + [""]])
    out = tmp_path / "out.csv"
    assert main(["batch", str(src), "-o", str(out), *cli_args(corpus)]) == 0
    assert "wrote 3 answers" in capsys.readouterr().err
    assert [r["question"] for r in read_output(out)] == QUESTIONS
    bad = write_input(tmp_path / "bad.csv", [{"query": "x"}])
    assert main(["batch", str(bad), "-o", str(out), *cli_args(corpus)]) == 2
    assert "没有问题列" in capsys.readouterr().err


def test_cli_eval(corpus, tmp_path, capsys):
    rows = [
        {"id": "s", "question": Q_SALES, "answers": ["477.83亿元"], "evidence": "477.83亿元"},
        {"id": "t", "question": "慈溪的市树是什么？", "answers": [], "answerable": False},
    ]
    src = write_input(tmp_path / "gold.jsonl", rows)
    report = tmp_path / "r.md"
    assert main(["eval", str(src), "-o", str(report), *cli_args(corpus)]) == 0
    out = capsys.readouterr().out
    assert "hit@1 (evidence in citation 1)" in out and "100.0%" in out
    assert report.exists() and (tmp_path / "r.png").exists()
    plain = write_input(tmp_path / "plain.txt", [{"question": Q_SALES}])
    assert main(["eval", str(plain), *cli_args(corpus)]) == 2
    assert "没有标准答案" in capsys.readouterr().err


def test_csv_cells_never_become_formulas():
    from qa.tabular import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-3.5") == "-3.5"
    assert csv_cell("慈溪") == "慈溪"


def test_rows_of_one_conversation_are_asked_with_its_earlier_questions():
    from qa.batch import histories

    rows = [
        Row(1, "甲的产值是多少？", {"conversation": "a"}),
        Row(2, "乙呢？", {"conversation": "b"}),
        Row(3, "那2003年呢？", {"conversation": "a"}),
        Row(4, "独立的问题？"),
        Row(5, "那2010年呢？", {"conversation": "a"}),
    ]
    assert histories(rows) == [
        (),
        (),
        ("甲的产值是多少？",),
        (),
        ("甲的产值是多少？", "那2003年呢？"),
    ]


# --- resume validates what an earlier run left --------------------------------------------


def _cuts(data: bytes) -> list[int]:
    """Interesting places to kill a CSV writer: inside every row, on each side of every line
    break, inside multi-byte characters, and a spread of others."""
    cuts = set(range(1, len(data), max(1, len(data) // 40)))
    for i, byte in enumerate(data):
        if byte in b"\r\n":
            cuts.update((i, i + 1))
        if 0xE0 <= byte <= 0xEF:  # the first byte of a 3-byte character (Chinese)
            cuts.update((i + 1, i + 2))
    return sorted(c for c in cuts if 0 < c < len(data))[::7]


def test_csv_resume_after_a_cut_anywhere(assistant, tmp_path):
    questions = [f"{q}（{i}）" for i in range(2) for q in QUESTIONS]
    src = write_input(
        tmp_path / "in.csv", [{"question": q, "k": i} for i, q in enumerate(questions)]
    )
    fresh = tmp_path / "fresh.csv"
    run_batch(assistant, src, fresh, chunk_size=2, progress=False)
    data = fresh.read_bytes()
    expected = read_output(fresh)
    cuts = _cuts(data)
    assert len(cuts) > 40, len(cuts)
    for cut in cuts:
        out = tmp_path / "out.csv"
        out.write_bytes(data[:cut])
        run_batch(assistant, src, out, resume=True, chunk_size=2, progress=False)
        got = read_output(out)
        assert got == expected, f"cut at byte {cut} of {len(data)}"


def test_csv_resume_re_answers_rows_after_bad_bytes_or_a_merged_row(assistant, tmp_path):
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in QUESTIONS])
    fresh = tmp_path / "fresh.csv"
    run_batch(assistant, src, fresh, progress=False)
    expected = read_output(fresh)
    lines = fresh.read_bytes().split(b"\r\n")
    second = sum(len(x) + 2 for x in lines[:2])  # header and first row are whole
    damaged = {
        "bad bytes": fresh.read_bytes()[:second] + b"\xff\xfe" + fresh.read_bytes()[second + 2 :],
        "merged": fresh.read_bytes()[: second - 2] + fresh.read_bytes()[second:],  # no break
    }
    for why, data in damaged.items():
        out = tmp_path / "out.csv"
        out.write_bytes(data)
        spy = Spy(assistant)
        run_batch(spy, src, out, resume=True, progress=False)
        assert read_output(out) == expected, why
        assert len(spy.asked) >= 2, why


def test_jsonl_resume_re_answers_from_a_damaged_line(assistant, tmp_path):
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in QUESTIONS])
    out = tmp_path / "out.jsonl"
    run_batch(assistant, src, out, progress=False)
    expected = read_output(out)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(lines[0] + lines[1][:10] + b"\xe6\x85" + b"\n" + lines[2])
    spy = Spy(assistant)
    run_batch(spy, src, out, resume=True, progress=False)
    assert spy.asked == QUESTIONS[1:]
    assert read_output(out) == expected


def test_cli_resume_of_a_csv_cut_mid_character(corpus, tmp_path, capsys):
    src = write_input(tmp_path / "in.txt", [{"question": q} for q in QUESTIONS])
    out = tmp_path / "out.csv"
    index = ["--index", str(corpus / "idx"), "--model", "fake"]
    assert main(["batch", str(src), "-o", str(out), *index]) == 0
    data = out.read_bytes()
    mid_char = data.rindex("慈".encode()) + 1
    out.write_bytes(data[:mid_char])
    capsys.readouterr()
    assert main(["batch", str(src), "-o", str(out), "--resume", *index]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "codec" not in err
    assert [r["question"] for r in read_output(out)] == QUESTIONS
