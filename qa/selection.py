"""Answer selection: choose the sentence that answers, check it, say the short answer.

Candidates are the best-scoring sentences of the retrieved passages (``qa.answering``). Each
is grounded against the question (``qa.grounding``), its short answer is extracted
(``qa.extract``), and the calibrated model (``qa.answerability``) scores it. The most probable
candidate is the answer when its probability reaches the model's threshold and nothing the
question names is missing from it; otherwise the reply is a refusal with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import lexicon as lx
from .answerability import Model, default_model, features
from .answering import (
    NUMBER_QUESTION,
    AnswerParams,
    Evidence,
    compound_patterns,
    score_sentences,
    trim_sentence,
    weighted_terms,
)
from .chunking import sentence_spans
from .extract import (
    counts_elsewhere,
    counts_not_names,
    named_in,
    places_naming_a_kind,
    short_answer,
)
from .grounding import (
    REASONS,
    Gap,
    Support,
    TermMatcher,
    asked_term,
    document_year,
    ground,
    reason,
)
from .question import Frame, analyse
from .records import Passage
from .text import Tokenizer, fold

CANDIDATES = 8  # sentences checked per question
UNSURE_CONFIDENCE = 0.5  # a refusal this close to an answer says so (REASONS["unsure"])
MAX_QUOTE_CHARS = 150
EXACT_PREFERENCE = 0.05  # rank-score margin within which an exact value beats a bound one


@dataclass(frozen=True)
class Candidate:
    evidence: Evidence
    sentence: str
    support: Support
    short: str
    probability: float  # rank score among the candidates
    subject: str
    features: np.ndarray


def _names_a(frame: Frame, chosen: Candidate) -> bool:
    """Does the sentence say the kind a which-question asks (哪个小镇: 小镇) other than as the
    question's own words say it (特色小镇, the same two characters before it)? True where
    the question names no kind."""
    kind = frame.right[0] if frame.right else ""
    if len(kind) < 2:
        return True
    question, text = fold(frame.question), fold(chosen.sentence)
    asked_at = lx.ASKS_WHICH.search(question)
    end = asked_at.start() if asked_at else len(question)
    own = {
        question[max(0, m.start() - 2) : m.start()]
        for m in re.finditer(re.escape(kind), question[:end])
    }
    return any(
        text[max(0, m.start() - 2) : m.start()] not in own
        for m in re.finditer(re.escape(kind), text)
    )


@dataclass(frozen=True)
class Decision:
    frame: Frame
    evidence: list[Evidence]  # every sentence, best first (for citing order)
    chosen: Candidate | None  # the answer, or None for a refusal
    best: Candidate | None  # the most relevant candidate (explains a refusal)
    quote: str
    reason: str
    confidence: float  # calibrated P(the picked candidate answers the question)
    spans: tuple[tuple[int, int], ...] = ()  # the quoted sentences in the chosen's passage

    @property
    def found(self) -> bool:
        return self.chosen is not None


def echo_share(short: str, question: str) -> float:
    """Share of the short answer's characters that the question holds."""
    folded = set(fold(question))
    return sum(1 for ch in fold(short) if ch in folded) / len(short) if short else 0.0


def window_of(passage: Passage, start: int, end: int) -> tuple[str, str]:
    """(near, window): the sentence with the heading path and the document title, and the
    same with the sentence before it."""
    chunk = passage.chunk
    before = [a for a, b in sentence_spans(chunk.text) if b <= start]
    prev = chunk.text[before[-1] : start] if before else ""
    near = "\n".join([chunk.title, chunk.section_path, chunk.text[start:end]])
    return near, f"{prev}\n{near}"


class AnswerSelector:
    def __init__(
        self,
        tokenizer: Tokenizer,
        idf: Callable[[str], float],
        document_frequency: Callable[[str], int],
        subject_of: Callable[[Passage], str],
        params: AnswerParams = AnswerParams(),
        model: Model | None = None,
        region_of: Callable[[Passage], str] = lambda passage: "",
    ):
        self.tokenizer = tokenizer
        self.idf = idf
        self.df = document_frequency
        self.subject_of = subject_of
        self.region_of = region_of
        self.params = params
        self.model = model or default_model()
        self.matcher = TermMatcher(tokenizer)

    def known(self, term: str) -> bool:
        """Does the corpus hold the term (or every part of it)?"""
        term = term.lower()
        if self.df(term) > 0:
            return True
        parts = self.matcher.parts(term)
        return bool(parts) and all(self.df(p) > 0 for p in parts)

    def weight(self, term: str) -> float:
        return self.idf(term.lower())

    def candidates(
        self, query: str, passages: list[Passage]
    ) -> tuple[Frame, list[Evidence], list[Candidate]]:
        frame = analyse(query, self.tokenizer)
        weights = weighted_terms(self.tokenizer.tokens(query), self.idf)
        compounds = compound_patterns(weights)
        evidence = score_sentences(query, weights, passages, self.params, compounds)
        picked: list[Evidence] = []
        seen: set[str] = set()
        for e in evidence:
            text = passages[e.passage].chunk.text[e.start : e.end]
            if text not in seen:
                seen.add(text)
                picked.append(e)
            if len(picked) == CANDIDATES:
                break
        rows, built = [], []
        dense_best = max((p.dense for p in passages), default=0.0)
        for e in picked:
            passage = passages[e.passage]
            sentence = passage.chunk.text[e.start : e.end]
            subject = self.subject_of(passage)
            support = ground(
                frame, sentence, *window_of(passage, e.start, e.end), subject,
                self.matcher, self.weight, self.known, passage.chunk.text,
                document_year(passage.chunk.date), self.region_of(passage),
            )  # fmt: skip
            short = short_answer(frame, sentence, self.matcher, subject)
            fitted = (  # the features are read on the plain rules (see short_answer)
                short_answer(frame, sentence, self.matcher, subject, plain=True)
                if frame.kind in ("what", "other", "year")
                else short
            )
            if frame.kind == "number" and not short:
                kinds = [m.group() for m in places_naming_a_kind(frame, fold(sentence), subject)]
                bound = named_in(frame, fold(sentence), subject) + list(frame.levels)
                if counts_elsewhere(frame, fold(sentence), subject):
                    bound.append("".join(frame.counted))
                # no value of it to show (四个轮子 for 多少个乡镇): the sentence answers nothing
                gap = (  # 宁波市单项冠军4家 counts 宁波市-level champions: no figure of 宁波市
                    Gap("name", kinds[0])
                    if kinds
                    else Gap("value", bound[0] if bound else asked_term(frame))
                )
                support = replace(support, gaps=support.gaps + (gap,))
            if short and counts_not_names(frame, short):
                gap = Gap("names", asked_term(frame))
                support = replace(support, gaps=support.gaps + (gap,))
            other = max((o.score for o in picked if o.passage != e.passage), default=0.0)
            echo = echo_share(fitted, query)
            rows.append(
                features(
                    support,
                    frame.kind,
                    bool(fitted) or frame.kind == "reason",  # why/how: nothing to pull out
                    e.score,
                    e.score - other,
                    echo,
                    e.passage == 0,
                    passage.dense,
                    dense_best,
                )  # fmt: skip
            )
            built.append((e, sentence, support, short, subject))
        probs = self.model.rank(np.array(rows)) if rows else np.zeros(0)
        cands = [
            Candidate(e, s, sup, short, float(p), subj, x)
            for (e, s, sup, short, subj), p, x in zip(built, probs, rows)
        ]
        return frame, evidence, cands

    def decide(self, query: str, passages: list[Passage]) -> Decision:
        frame, evidence, cands = self.candidates(query, passages)
        best = cands[0] if cands else None
        usable = [i for i, c in enumerate(cands) if not c.support.hard]
        confidence = 0.0
        chosen = None
        which = frame.kind not in ("list", "reason") and bool(lx.ASKS_WHICH.search(query))
        if usable:
            scores = np.array([c.probability for c in cands])
            pick = self.exact_first(cands, usable, scores, which)
            x = np.array([c.features for c in cands])
            where = np.array([c.evidence.passage for c in cands])
            confidence = self.model.confidence(x, scores, pick, where)
            chosen = cands[pick] if confidence >= self.model.threshold else None
        if chosen is not None and frame.kind == "person" and not chosen.short:
            # 负责人叫什么名字 of …负责人称赞道: the surest sentence names nobody. Refused, not
            # answered from a less sure sentence that happens to hold a name (a guess)
            why = reason((Gap("person", asked_term(frame)),), "")
            return Decision(frame, evidence, None, best, "", why, confidence)
        if chosen is not None and which and not chosen.short and not _names_a(frame, chosen):
            # 建设哪个小镇 of …落实特色小镇战略: the sentence says no 小镇 but the question's own
            why = reason((Gap("which", frame.right[0]),), "")
            return Decision(frame, evidence, None, best, "", why, confidence)
        if chosen is None:
            why = self.refusal_reason(cands, usable, confidence)
            return Decision(frame, evidence, None, best, "", why, confidence)
        second = self.companion(chosen, cands)
        quote = self.quote(query, chosen)
        spans = [(chosen.evidence.start, chosen.evidence.end)]
        if second is not None and quote == chosen.sentence:
            spans = sorted(spans + [(second.evidence.start, second.evidence.end)])
            text = passages[chosen.evidence.passage].chunk.text
            (a, b), (c, d) = spans
            quote = text[a:d] if b == c else f"{text[a:b]}……{text[c:d]}"
        return Decision(frame, evidence, chosen, best, quote, "", confidence, tuple(spans))

    @staticmethod
    def exact_first(
        cands: list[Candidate], usable: list[int], scores: np.ndarray, which: bool = False
    ) -> int:
        """The most probable usable candidate; of those within ``EXACT_PREFERENCE`` of it,
        one whose short answer is an exact value (4219.2亿元) before one that only bounds it
        (突破4000亿元), and for a ``which`` question (哪个小镇) one that names a thing before
        one that names none."""
        best = max(usable, key=lambda i: scores[i])
        close = [i for i in usable if scores[i] >= scores[best] - EXACT_PREFERENCE]
        exact = [
            i
            for i in close
            if cands[i].short and not cands[i].short.startswith(lx.VALUE_QUALIFIERS)
        ]
        if cands[best].short.startswith(lx.VALUE_QUALIFIERS) and exact:
            return max(exact, key=lambda i: scores[i])
        named = [i for i in close if cands[i].short]
        if which and not cands[best].short and named:
            return max(named, key=lambda i: scores[i])  # 哪个小镇: the close one naming it
        return best

    @staticmethod
    def refusal_reason(cands: list[Candidate], usable: list[int], confidence: float) -> str:
        """Why nothing was answered: what the most probable candidate lacks (among those
        with no hard gap, if any); a close candidate lacking nothing was not certain enough."""
        pool = [cands[i] for i in usable] or cands
        top = max(pool, key=lambda c: c.probability, default=None)
        if top is not None and top.support.gaps:
            return reason(top.support.gaps, top.subject)
        if usable and confidence >= UNSURE_CONFIDENCE:
            return REASONS["unsure"]
        return REASONS["weak"]

    @staticmethod
    def companion(chosen: Candidate, cands: list[Candidate]) -> Candidate | None:
        """The next most probable sentence of the chosen one's passage, when both fit in
        ``MAX_QUOTE_CHARS``: the quote then shows both (the answer often spans two)."""
        same = [
            c
            for c in cands
            if c is not chosen
            and c.evidence.passage == chosen.evidence.passage
            and not c.support.hard
            and len(c.sentence) + len(chosen.sentence) <= MAX_QUOTE_CHARS
        ]
        return max(same, key=lambda c: c.probability, default=None)

    def quote(self, query: str, c: Candidate) -> str:
        """The supporting sentence, trimmed to ``MAX_QUOTE_CHARS`` around the short answer."""
        if len(c.sentence) <= MAX_QUOTE_CHARS:
            return c.sentence
        weights = weighted_terms(self.tokenizer.tokens(query), self.idf)
        keep = tuple(x for x in (c.short,) if x)
        wants_number = bool(NUMBER_QUESTION.search(query))
        limit = max(MAX_QUOTE_CHARS, len(c.short) + 20)
        text = trim_sentence(c.sentence, weights, limit, wants_number, keep)
        return text if all(k in text for k in keep) else c.sentence
