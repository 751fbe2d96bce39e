"""Evaluation metrics on a tiny hand-checked set: every value computed by hand."""

from __future__ import annotations

import pytest

from qa.metrics import (
    Gold,
    answer_matches,
    cited_passage,
    evidence_rank,
    has_gold,
    hit_at,
    judge,
    latency_stats,
    misses,
    mrr,
    normalize,
    parse_gold,
    summarize,
)


def record(answer: str, found: bool, texts: list[str], error: str | None = None) -> dict:
    cites = [{"n": i, "source": f"d{i}.md", "text": t} for i, t in enumerate(texts, 1)]
    rec = {"id": None, "question": "q", "answer": answer, "found": found, "citations": cites}
    return rec | ({"error": error} if error else {})


# Seven questions. Evidence ranks: 1, 3, 6, none (four with evidence).
GOLDS = [
    Gold(("A1",), "E1", True),  # 1 right answer, evidence at 1
    Gold(("A2", "B2"), "E2", True),  # 2 right (second gold), evidence at 3
    Gold(("A3",), "E3", True),  # 3 refused, evidence at 6 (beyond top 5)
    Gold(("A4",), "E4", True),  # 4 wrong answer, evidence not cited
    Gold((), None, False),  # 5 unanswerable, refused: right
    Gold((), None, False),  # 6 unanswerable, answered: wrong
    Gold(("A7",), "E7", True),  # 7 error record: left out of every metric
]
RECORDS = [
    record("前文 A1 后文[1]", True, ["…E1…", "x"]),
    record("B2[2]", True, ["x", "y", "has E2"]),
    record("资料中没有找到", False, ["a", "b", "c", "d", "x", "f E3"]),
    record("wrong[1]", True, ["a", "b"]),
    record("资料中没有找到", False, ["a"]),
    record("made up[1]", True, ["a"]),
    record("", False, [], error="问题为空"),
]
LATENCIES = [0.1, 0.2, 0.3, 0.4, 1.0, 2.0, None]


def test_summary_on_hand_checked_set():
    judgements = [judge(g, r) for g, r in zip(GOLDS, RECORDS)]
    assert [j.rank for j in judgements] == [1, 3, 6, None, None, None, None]
    s = summarize(judgements, LATENCIES)
    counts = {k: s[k] for k in ("questions", "errors", "answerable", "unanswerable")}
    # the error row (answerable, with evidence) counts as a wrong answer, never as missing
    assert counts == {"questions": 7, "errors": 1, "answerable": 5, "unanswerable": 2}
    assert (s["with_evidence"], s["timed"]) == (5, 6)
    assert s["hit@1"] == 0.2  # 1 of 5
    assert s["hit@5"] == 0.4  # ranks 1 and 3
    assert s["mrr@10"] == pytest.approx(0.3)  # (1 + 1/3 + 1/6 + 0 + 0) / 5
    assert s["answer_accuracy"] == 0.4  # questions 1 and 2 of 5
    assert s["refusal_accuracy"] == 0.5  # question 5 of 5 and 6
    assert s["false_refusals"] == 0.2  # question 3 of 5 (the error is wrong, not a refusal)
    assert s["latency_p50"] == pytest.approx(0.35)  # between 0.3 and 0.4
    assert s["latency_p95"] == pytest.approx(1.75)  # 1.0 + 0.75 * (2.0 - 1.0)
    assert s["latency_mean"] == pytest.approx(4.0 / 6)


def test_misses_say_why():
    judgements = [judge(g, r) for g, r in zip(GOLDS, RECORDS)]
    got = misses(GOLDS, RECORDS, judgements)
    assert [m["why"] for m in got] == [
        "refused (answerable)",
        "wrong answer",
        "answered (unanswerable)",
        "error: 问题为空",
    ]
    assert got[0]["expected"] == "A3" and got[0]["passage"] == "a"
    assert got[2]["expected"] == "（应拒答）"
    assert (got[1]["got"], got[1]["passage_source"], got[1]["rank"]) == ("wrong[1]", "d1.md", None)


def test_evidence_outside_top_k_is_a_miss_even_when_answered():
    gold = Gold(("A",), "E", True)
    rec = record("A[1]", True, ["p", "q", "r", "s", "t", "E"])
    [m] = misses([gold], [rec], [judge(gold, rec)], k=5)
    assert m["why"] == "evidence not in top 5" and m["rank"] == 6


def test_rank_functions():
    assert evidence_rank(["ab", "x E y", "E"], "E") == 2
    assert evidence_rank(["a", "b", "E"], "E", k=2) is None
    assert evidence_rank(["a 1 2"], "a12") == 1  # whitespace ignored
    assert hit_at([1, 2, None], 1) == pytest.approx(1 / 3)
    assert hit_at([], 1) is None
    assert mrr([2, 4, None]) == pytest.approx(0.25)  # (1/2 + 1/4 + 0) / 3
    assert mrr([11], k=10) == 0.0
    assert mrr([]) is None


def test_answer_matching():
    assert normalize("４７７．８３ 亿元") == "477.83亿元"  # full width, spaces
    assert answer_matches("总额４７７.８３亿元。[1]", ["477.83亿元"])
    assert not answer_matches("没有数字[1]", ["1"])  # markers are not the answer
    assert answer_matches("ABC", ["x", "abc"])
    assert not answer_matches("anything", [])
    assert not answer_matches("anything", [""])


def test_latency_stats():
    assert latency_stats([2.0]) == {"mean": 2.0, "p50": 2.0, "p95": 2.0, "max": 2.0}
    assert latency_stats([])["p50"] is None
    stats = latency_stats([0.1, 0.2, 0.3, 0.4])
    assert stats["p50"] == pytest.approx(0.25) and stats["p95"] == pytest.approx(0.385)


def test_parse_gold_from_jsonl_and_csv_fields():
    assert parse_gold({"answers": ["a", "b"], "evidence": "e", "answerable": True}) == Gold(
        ("a", "b"), "e", True
    )
    assert parse_gold({"answers": [], "evidence": None, "answerable": False}) == Gold(
        (), None, False
    )
    assert parse_gold({"Answers": " a | b |", "Evidence": "", "answerable": ""}) == Gold(
        ("a", "b"), None, True
    )
    assert parse_gold({"answers": "", "answerable": "否"}) == Gold((), None, False)
    assert parse_gold({"answers": "x", "answerable": "TRUE"}).answerable is True
    assert parse_gold({"answers": 42}).answers == ("42",)
    with pytest.raises(ValueError, match="answerable"):
        parse_gold({"answers": "x", "answerable": "maybe"})
    assert has_gold({"answers": ""}) and has_gold({"answerable": False})
    assert not has_gold({"note": "x"})


def test_cited_passage_follows_the_answer_marker():
    rec = record("x[2]", True, ["one", "two"])
    assert cited_passage(rec)["text"] == "two"
    assert cited_passage(record("no marker", False, ["one"]))["text"] == "one"
    assert cited_passage(record("", False, [])) is None
