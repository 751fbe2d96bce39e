"""Extractive answers: pick the sentence that answers, trim it, cite it, or refuse.

No language model: a sentence is scored by how much of the question's (IDF-weighted)
content it and its passage contain, plus whether it holds what the question asks for
(a number, a year). Numbers in the question must appear in the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .chunking import sentence_spans
from .records import Passage
from .text import fold

NUMBER_QUESTION = re.compile(
    r"多少|几[个家项件年次岁天人所座条倍]?|多[大高长重远久]|比例|百分|金额|数量|规模"
)
YEAR_QUESTION = re.compile(r"哪[一]?年|何年|什么时候|何时|哪个年份")
HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两]+[个家项件年次名位倍%％]")
HAS_YEAR = re.compile(r"(1[89]|20)\d\d年")
QUESTION_NUMBER = re.compile(r"\d+(?:\.\d+)?")
COMPOUND_SLACK = 2  # characters a compound's parts may stand apart (工业总产值 for 工业产值)
CLAUSE = re.compile(r"[^，,：:、（）()]+[，,：:、（）()]*")


@dataclass(frozen=True)
class Evidence:
    """A sentence of passage ``passage`` (an index into the ranked passages);
    ``start``/``end`` are offsets into that chunk's text."""

    passage: int
    start: int
    end: int
    score: float  # 0..1, how well the sentence answers the question
    coverage: float  # 0..1, share of the question's weighted terms found


@dataclass(frozen=True)
class AnswerParams:
    min_coverage: float = 0.40  # below this, the documents do not answer the question (calibrated)
    sentence_weight: float = 0.6  # sentence coverage vs passage coverage
    type_bonus: float = 0.15  # the sentence holds the kind of thing asked (number, year)
    rank_weight: float = 0.1  # retrieval score's share of a sentence's score
    max_answer_chars: int = 80


def weighted_terms(terms: list[str], idf: Callable[[str], float]) -> dict[str, float]:
    """Distinct content terms with their IDF; shorter terms inside longer ones count less."""
    weights: dict[str, float] = {}
    for term in dict.fromkeys(terms):
        inside = any(term != other and term in other for other in terms)
        weights[term] = idf(term) * (0.5 if inside else 1.0)
    return weights


def compound_patterns(weights: dict[str, float]) -> dict[str, re.Pattern]:
    """For each term spelled out whole by shorter terms of ``weights`` (工业产值 = 工业 +
    产值), a pattern finding those parts in order with at most ``COMPOUND_SLACK`` characters
    between them: the compound said with a word inside (工业总产值)."""
    out = {}
    for term in weights:
        cover, parts = [False] * len(term), []
        for part in weights:
            at = term.find(part) if part != term and len(part) >= 2 else -1
            if at >= 0:
                parts.append((at, part))
                cover[at : at + len(part)] = [True] * len(part)
        if parts and all(cover):
            words = [re.escape(p) for _, p in sorted(parts)]
            out[term] = re.compile(f".{{0,{COMPOUND_SLACK}}}".join(words))
    return out


def coverage(
    weights: dict[str, float], text: str, compounds: dict[str, re.Pattern] | None = None
) -> float:
    """Weighted share of terms that occur in ``text`` (lower-cased substring match; with
    ``compounds``, a compound also where its parts stand close in order)."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    text = fold(text)
    compounds = compounds or {}
    return (
        sum(
            w
            for t, w in weights.items()
            if t in text or (t in compounds and compounds[t].search(text))
        )
        / total
    )


def missing_numbers(question: str, text: str) -> list[str]:
    """Numbers (years, amounts) the question names that ``text`` does not contain."""
    return [n for n in QUESTION_NUMBER.findall(question) if n not in text]


def score_sentences(
    question: str,
    weights: dict[str, float],
    passages: list[Passage],
    params: AnswerParams = AnswerParams(),
    compounds: dict[str, re.Pattern] | None = None,
) -> list[Evidence]:
    """Every sentence of every passage, scored; best first (``compounds``: see
    ``coverage``)."""
    wants_number = bool(NUMBER_QUESTION.search(question))
    wants_year = bool(YEAR_QUESTION.search(question))
    top = max((p.score for p in passages), default=1.0) or 1.0
    evidence = []
    for i, passage in enumerate(passages):
        chunk = passage.chunk
        context = f"{chunk.section_path}\n{chunk.text}"
        passage_cov = coverage(weights, context, compounds)
        if missing_numbers(question, context):
            passage_cov *= 0.5
        for a, b in sentence_spans(chunk.text):
            sentence = chunk.text[a:b]
            cov = coverage(weights, sentence, compounds)
            mixed = params.sentence_weight * cov + (1 - params.sentence_weight) * passage_cov
            bonus = 0.0
            if wants_year and HAS_YEAR.search(sentence):
                bonus = params.type_bonus
            elif wants_number and HAS_NUMBER.search(sentence):
                bonus = params.type_bonus
            score = (1 - params.rank_weight) * mixed + params.rank_weight * passage.score / top
            evidence.append(Evidence(i, a, b, score + bonus, mixed))
    evidence.sort(key=lambda e: -e.score)
    return evidence


def trim_sentence(
    sentence: str,
    weights: dict[str, float],
    max_chars: int,
    wants_number: bool,
    numbers: tuple[str, ...] = (),
) -> str:
    """The sentence itself, or for a long one its best clauses in their order, gaps marked
    "…". Clauses holding a number the question names (``numbers``) come first, then those
    worth at least 0.6 of the best (worth: share of the question's terms, more for a number
    when one is asked for), while they fit in ``max_chars``; then neighbours fill the room."""
    if len(sentence) <= max_chars:
        return sentence
    clauses = CLAUSE.findall(sentence) or [sentence]
    scores = np.array([coverage(weights, c) for c in clauses])
    if wants_number:
        scores += [0.3 if HAS_NUMBER.search(c) else 0.0 for c in clauses]
    named = [any(n in c for n in numbers) for c in clauses]
    wanted = [i for i, s in enumerate(scores) if named[i] or s >= 0.6 * scores.max()]
    chosen: set[int] = set()
    room = max_chars
    for i in sorted(wanted, key=lambda i: (not named[i], -scores[i], i)):
        if len(clauses[i]) <= room or not chosen:
            chosen.add(i)
            room -= len(clauses[i])
    grew = True
    while grew:  # fill with neighbours of what was chosen, better-matching first
        grew = False
        around = {j for i in chosen for j in (i - 1, i + 1) if 0 <= j < len(clauses)} - chosen
        for j in sorted(around, key=lambda j: (-scores[j], j)):
            if len(clauses[j]) <= room:
                chosen.add(j)
                room -= len(clauses[j])
                grew = True
                break
    parts, last = [], None
    for i in sorted(chosen):
        if last is not None and i != last + 1:
            parts[-1] = parts[-1].rstrip("，,：:、（(") + "…"
        parts.append(clauses[i])
        last = i
    return "".join(parts).rstrip("，,：:、（(")


def rerank(passages: list[Passage], evidence: list[Evidence]) -> list[int]:
    """Passage order for citing: by their best sentence's score, then retrieval order."""
    best: dict[int, float] = {}
    for e in evidence:
        best.setdefault(e.passage, e.score)
    return sorted(range(len(passages)), key=lambda i: (-best.get(i, 0.0), i))
