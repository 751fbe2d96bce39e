"""How likely is it that the shown answer is supported? One calibrated score, two steps.

1. ``rank``: a logistic model over features of (question, candidate sentence) — grounding
   (what is missing), lexical coverage of the sentence and its window, the sentence's evidence
   score (which mixes in the passage's fused lexical + dense retrieval score), whether it holds
   what is asked — picks the best candidate sentence.
2. ``confidence``: a second logistic model over the picked candidate's features plus its rank
   score and its lead over the runner-up gives the probability that it answers the question.

Both are fitted by ``benchmarks/train_answerability.py`` on generated pairs and stored as plain
JSON in ``qa/data/answerability.json``; scoring is two dot products. The threshold stored with
them — the one place the answer/refuse line is drawn — is chosen there for the product's
promise: a wrong answer costs ten times a refusal (``WRONG_COST``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .grounding import Support

FEATURES = (
    "sentence_cov",
    "window_cov",
    "attribute_cov",
    "attribute_whole",
    "gap_name",
    "gap_name_far",
    "gap_year",
    "gap_level",
    "gap_unknown",
    "gap_value",
    "gap_attribute",
    "gap_type",
    "gap_attribute_far",
    "gap_type_far",
    "scope_missing",
    "has_value",
    "short_found",
    "grounded",
    "evidence_score",
    "margin",
    "bigram_cov",
    "bigram_window",
    "passage_cov",
    "bigram_passage",
    "short_echo",
    "first_passage",
    "dense_cos",
    "dense_best",
    "kind_number",
    "kind_year",
    "kind_list",
    "kind_other",
)
GAPS = tuple(f for f in FEATURES if f.startswith("gap_")) + ("scope_missing",)  # any: not grounded
WRONG_COST = 10.0  # a confident wrong answer costs this many refusals


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def confidence_features(
    x: np.ndarray, rank_scores: np.ndarray, best: int, passages: np.ndarray
) -> np.ndarray:
    """The picked candidate's features, its rank score, its lead over the best candidate of
    another passage (two sentences of one passage cite the same source), and whether it is
    fully grounded, per kind of question."""
    others = rank_scores[passages != passages[best]]
    lead = rank_scores[best] - (others.max() if others.size else 0.0)
    row = x[best]
    kinds = [FEATURES.index(k) for k in ("kind_number", "kind_year", "kind_list", "kind_other")]
    grounded_by_kind = row[FEATURES.index("grounded")] * row[kinds]  # how far grounding holds
    return np.concatenate([row, [rank_scores[best], lead], grounded_by_kind])


@dataclass(frozen=True)
class Model:
    rank_weights: np.ndarray  # (len(FEATURES),)
    rank_bias: float
    confidence_weights: np.ndarray  # (len(FEATURES) + 6,)
    confidence_bias: float
    threshold: float

    def rank(self, x: np.ndarray) -> np.ndarray:
        """Rank scores (0–1) of candidate rows ``x`` (n, len(FEATURES))."""
        return sigmoid(x @ self.rank_weights + self.rank_bias)

    def confidence(
        self, x: np.ndarray, rank_scores: np.ndarray, best: int, passages: np.ndarray
    ) -> float:
        """P(the candidate ``best`` answers the question), calibrated; ``passages`` says which
        passage each candidate comes from."""
        z = confidence_features(x, rank_scores, best, passages) @ self.confidence_weights
        return float(sigmoid(z + self.confidence_bias))


def features(
    support: Support,
    kind: str,
    short_found: bool,
    evidence_score: float,
    margin: float,
    short_echo: float = 0.0,
    first_passage: bool = False,
    dense: float = 0.0,
    dense_best: float = 0.0,
) -> np.ndarray:
    """One candidate's row; ``short_echo`` is the share of the short answer's characters the
    question itself holds (an answer repeats no part of its question), ``first_passage``
    whether the sentence comes from the best-retrieved passage, ``dense`` the cosine of the
    question and the sentence's passage, ``dense_best`` the highest over the retrieved
    passages (nothing close in meaning: likely nothing answers)."""
    gaps = {g.kind for g in support.gaps}
    row: dict[str, float] = {
        "sentence_cov": support.sentence_cov,
        "window_cov": support.window_cov,
        "attribute_cov": support.attribute_cov,
        "attribute_whole": float(support.attribute_whole),
        "gap_name": float("name" in gaps),
        "gap_name_far": float("name_far" in gaps),
        "gap_year": float("year" in gaps),
        "gap_level": float("level" in gaps),
        "gap_unknown": float("unknown" in gaps),
        "gap_value": float("value" in gaps),
        "gap_attribute": float("attribute" in gaps),
        "gap_type": float("type" in gaps),
        "gap_attribute_far": float("attribute_far" in gaps),
        "gap_type_far": float("type_far" in gaps),
        "scope_missing": float(support.scope_missing),
        "has_value": float(support.has_value),
        "short_found": float(short_found),
        "evidence_score": evidence_score,
        "margin": margin,
        "bigram_cov": support.bigram_cov,
        "bigram_window": support.bigram_window,
        "passage_cov": support.passage_cov,
        "bigram_passage": support.bigram_passage,
        "short_echo": short_echo,
        "first_passage": float(first_passage),
        "dense_cos": dense,
        "dense_best": dense_best,
        "kind_number": float(kind == "number"),
        "kind_year": float(kind == "year"),
        "kind_list": float(kind == "list"),
        "kind_other": float(kind not in ("number", "year", "list")),
    }
    row["grounded"] = grounded(row)
    return np.array([row[f] for f in FEATURES], dtype=np.float64)


def grounded(row: dict[str, float]) -> float:
    """1 when the sentence holds every word of the question, the attribute as one phrase and
    a short answer of the asked kind, with nothing missing; else 0."""
    return float(
        row["sentence_cov"] >= 0.999
        and row["attribute_whole"] == 1.0
        and row["has_value"] == 1.0
        and row["short_found"] == 1.0
        and not any(row[g] for g in GAPS)
    )


def from_json(data: dict) -> Model:
    names = data["features"]
    if tuple(names) != FEATURES:
        raise ValueError("answerability model was fitted on other features; refit it")
    return Model(
        np.array(data["rank"]["weights"], dtype=np.float64),
        float(data["rank"]["bias"]),
        np.array(data["confidence"]["weights"], dtype=np.float64),
        float(data["confidence"]["bias"]),
        float(data["threshold"]),
    )


@lru_cache(maxsize=1)
def default_model() -> Model:
    text = resources.files("qa").joinpath("data/answerability.json").read_text("utf-8")
    return from_json(json.loads(text))


def best_threshold(p: np.ndarray, correct: np.ndarray, answerable: np.ndarray) -> float:
    """The threshold minimising ``WRONG_COST`` × wrong answers + refusals of answerable
    questions, for per-question scores ``p``, whether the chosen sentence is right, and
    whether the question can be answered at all."""
    best, best_cost = 0.5, float("inf")
    for t in np.unique(np.concatenate([p, [0.5]])):
        answered = p >= t
        cost = WRONG_COST * np.sum(answered & ~correct) + np.sum(~answered & answerable)
        if cost < best_cost:
            best, best_cost = float(t), cost
    return best
