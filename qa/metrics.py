"""Scores for answer records against gold data: pure functions over lists.

A record is ``Answer.to_record()`` (``answer``, ``found``, ``citations`` best first, each
with ``text``). Gold data per question: ``answers`` (any one of them, contained in the answer,
makes it correct), ``evidence`` (a span that must appear in a cited passage) and
``answerable``. Rates are fractions in [0, 1], or ``None`` when nothing was there to count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_SPACE = re.compile(r"\s+")
_MARKER = re.compile(r"\[\d+\]")
_TRUE = {"true", "1", "yes", "y", "t", "是", "可回答"}
_FALSE = {"false", "0", "no", "n", "f", "否", "不可回答"}


def normalize(text: str) -> str:
    """Text compared for containment: NFKC (full-width → half-width), no whitespace, lower."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def strip_markers(answer: str) -> str:
    """The answer without its ``[n]`` citation markers."""
    return _MARKER.sub("", answer)


def evidence_rank(texts: Sequence[str], evidence: str, k: int = 10) -> int | None:
    """1-based position of the first of the top ``k`` passages containing ``evidence``."""
    wanted = normalize(evidence)
    for n, text in enumerate(texts[:k], 1):
        if wanted and wanted in normalize(text):
            return n
    return None


def hit_at(ranks: Sequence[int | None], k: int) -> float | None:
    """Fraction of questions whose evidence is within the first ``k`` citations."""
    return rate([r is not None and r <= k for r in ranks])


def mrr(ranks: Sequence[int | None], k: int = 10) -> float | None:
    """Mean reciprocal rank of the evidence, counting only ranks up to ``k``."""
    if not ranks:
        return None
    return float(np.mean([1.0 / r if r is not None and r <= k else 0.0 for r in ranks]))


def answer_matches(answer: str, golds: Sequence[str]) -> bool:
    """Does the answer (markers removed) contain one of the gold answers?"""
    text = normalize(strip_markers(answer))
    return any(g and normalize(g) in text for g in golds)


def rate(flags: Sequence[bool]) -> float | None:
    """Fraction of true flags; ``None`` for no flags."""
    return sum(map(bool, flags)) / len(flags) if len(flags) else None


def latency_stats(seconds: Sequence[float]) -> dict[str, float | None]:
    """Mean, median, 95th percentile (linear interpolation) and maximum, in seconds."""
    if not len(seconds):
        return {"mean": None, "p50": None, "p95": None, "max": None}
    a = np.asarray(seconds, dtype=float)
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


# --- gold data and judgements ---------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    answers: tuple[str, ...]
    evidence: str | None
    answerable: bool


def _field(fields: dict, name: str) -> object:
    return next((v for k, v in fields.items() if str(k).strip().lower() == name), None)


def has_gold(fields: dict) -> bool:
    return _field(fields, "answers") is not None or _field(fields, "answerable") is not None


def parse_gold(fields: dict) -> Gold:
    """Gold data from a row's fields: ``answers`` a list, or a ``|``-separated string (CSV and
    XLSX); ``evidence`` optional; ``answerable`` a boolean or true/false, 是/否, 1/0, default
    whether there are answers."""
    raw = _field(fields, "answers")
    if isinstance(raw, str):
        raw = raw.split("|")
    elif raw is not None and not isinstance(raw, (list, tuple)):
        raw = [raw]
    answers = tuple(str(a).strip() for a in raw or () if a is not None and str(a).strip())
    evidence = _field(fields, "evidence")
    evidence = str(evidence).strip() if evidence is not None and str(evidence).strip() else None
    flag = _field(fields, "answerable")
    if isinstance(flag, str):
        word = flag.strip().lower()
        if word and word not in _TRUE | _FALSE:
            raise ValueError(f"answerable 的值 {flag!r} 不是 true/false")
        flag = (word in _TRUE) if word else None
    answerable = bool(answers) if flag is None else bool(flag)
    return Gold(answers, evidence, answerable)


@dataclass(frozen=True)
class Judgement:
    answerable: bool
    found: bool
    correct: bool  # answerable: found and contains a gold answer; unanswerable: refused
    rank: int | None  # of the evidence among the citations (None: not cited, or no evidence)
    has_evidence: bool
    error: str | None = None  # the record is an error record: it counts as wrong
    em: float | None = None  # short answer vs gold (answerable questions with answers)
    f1: float | None = None


def judge(gold: Gold, record: dict, k: int = 10) -> Judgement:
    """How one record fares against its gold data."""
    found = bool(record.get("found"))
    texts = [c.get("text", "") for c in record.get("citations") or []]
    rank = evidence_rank(texts, gold.evidence, k) if gold.evidence else None
    error = record.get("error")
    if error:
        correct = False  # an error is a wrong answer, never a missing row
    elif gold.answerable:
        correct = found and answer_matches(record.get("answer") or "", gold.answers)
    else:
        correct = not found
    em = f1 = None
    if gold.answerable and gold.answers:
        short = str(record.get("short_answer") or "") if found and not error else ""
        em = max(exact_match(short, g) for g in gold.answers)
        f1 = max(char_f1(short, g) for g in gold.answers)
    return Judgement(gold.answerable, found, correct, rank, bool(gold.evidence), error, em, f1)


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def _chars(text: str) -> list[str]:
    """CMRC 2018's evaluation units: each CJK character alone, Latin words and numbers whole,
    punctuation and spaces dropped."""
    out: list[str] = []
    for piece in re.findall(r"[\u3400-\u9fff]|[^\u3400-\u9fff]+", normalize(text)):
        if re.match(r"[\u3400-\u9fff]", piece):
            out.append(piece)
        else:
            out += [w for w in _PUNCT.split(piece) if w]
    return out


def exact_match(prediction: str, gold: str) -> float:
    return float(bool(_chars(gold)) and _chars(prediction) == _chars(gold))


def longest_common_run(a: Sequence, b: Sequence) -> int:
    """Length of the longest run of items that ``a`` and ``b`` share (longest common
    substring), one row of the table at a time."""
    best, row = 0, [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            cur = row[j]
            row[j] = prev + 1 if x == y else 0
            best = max(best, row[j])
            prev = cur
    return best


def char_f1(prediction: str, gold: str) -> float:
    """F1 over the longest common substring of units, as CMRC 2018's official script."""
    p, g = _chars(prediction), _chars(gold)
    if not p or not g:
        return 0.0
    best = longest_common_run(p, g)
    if not best:
        return 0.0
    precision, recall = best / len(p), best / len(g)
    return 2 * precision * recall / (precision + recall)


def summarize(
    judgements: Sequence[Judgement], latencies: Sequence[float | None] = ()
) -> dict[str, float | int | None]:
    """Counts and metrics over judged questions, latency in seconds. An error record counts as
    a wrong answer (or a failed refusal) and as evidence not cited."""
    answerable = [j for j in judgements if j.answerable]
    unanswerable = [j for j in judgements if not j.answerable]
    ranks = [j.rank for j in judgements if j.has_evidence]
    ems = [j.em for j in answerable if j.em is not None]
    f1s = [j.f1 for j in answerable if j.f1 is not None]
    times = latency_stats([t for t in latencies if t is not None])
    return {
        "questions": len(judgements),
        "errors": sum(1 for j in judgements if j.error),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "with_evidence": len(ranks),
        "hit@1": hit_at(ranks, 1),
        "hit@5": hit_at(ranks, 5),
        "mrr@10": mrr(ranks, 10),
        "answer_accuracy": rate([j.correct for j in answerable]),
        "refusal_accuracy": rate([j.correct for j in unanswerable]),
        "false_refusals": rate([not j.found and not j.error for j in answerable]),
        "short_answer_em": float(np.mean(ems)) if ems else None,
        "short_answer_f1": float(np.mean(f1s)) if f1s else None,
        "timed": sum(t is not None for t in latencies),
        "latency_mean": times["mean"],
        "latency_p50": times["p50"],
        "latency_p95": times["p95"],
    }


def miss_reason(j: Judgement, k: int = 5) -> str | None:
    """Why a question counts as a miss, or None: wrong/refused/answered, or evidence not cited
    in the top ``k``."""
    if j.error:
        return f"error: {j.error}"
    if j.answerable and not j.found:
        return "refused (answerable)"
    if j.answerable and not j.correct:
        return "wrong answer"
    if not j.answerable and j.found:
        return "answered (unanswerable)"
    if j.has_evidence and (j.rank is None or j.rank > k):
        return f"evidence not in top {k}"
    return None


def cited_passage(record: dict) -> dict | None:
    """The citation the answer points to (its first ``[n]``), else the first citation."""
    citations = record.get("citations") or []
    m = _MARKER.search(record.get("answer") or "")
    if m:
        n = int(m.group()[1:-1])
        return next((c for c in citations if c.get("n") == n), None)
    return citations[0] if citations else None


def misses(
    golds: Sequence[Gold], records: Sequence[dict], judgements: Sequence[Judgement], k: int = 5
) -> list[dict]:
    """The questions that went wrong, with what a person needs to see why."""
    out = []
    for gold, record, j in zip(golds, records, judgements):
        reason = miss_reason(j, k)
        if reason is None:
            continue
        passage = cited_passage(record)
        out.append(
            {
                "id": record.get("id"),
                "question": record.get("question"),
                "why": reason,
                "expected": " | ".join(gold.answers) if gold.answerable else "（应拒答）",
                "evidence": gold.evidence,
                "got": record.get("answer") or "",
                "rank": j.rank,
                "passage": passage.get("text", "") if passage else "",
                "passage_source": passage.get("source", "") if passage else "",
            }
        )
    return out
