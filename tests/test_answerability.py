"""The answerability model: loads, scores in 0–1, and its threshold is the cost-optimal one."""

from __future__ import annotations

import numpy as np

from qa.answerability import FEATURES, WRONG_COST, best_threshold, default_model


def test_default_model_is_fitted_on_the_current_features():
    model = default_model()
    assert model.rank_weights.shape == (len(FEATURES),)
    assert model.confidence_weights.shape == (len(FEATURES) + 6,)
    assert 0.0 < model.threshold < 1.0


def test_more_support_means_more_confidence():
    model = default_model()
    weak = np.zeros((2, len(FEATURES)))
    strong = weak.copy()
    for f in ("sentence_cov", "window_cov", "attribute_cov", "has_value", "evidence_score"):
        strong[:, FEATURES.index(f)] = 1.0
    p_weak = model.confidence(weak, model.rank(weak), 0, np.arange(2))
    p_strong = model.confidence(strong, model.rank(strong), 0, np.arange(2))
    assert 0.0 <= p_weak < p_strong <= 1.0
    # (a candidate with a missing name, year or level is never picked: see test_grounding)


def test_best_threshold_minimises_ten_times_wrong_plus_refusals():
    rng = np.random.default_rng(0)
    p = rng.random(400)
    correct = rng.random(400) < p  # calibrated scores
    answerable = correct | (rng.random(400) < 0.3)
    t = best_threshold(p, correct, answerable)

    def cost(th: float) -> float:
        answered = p >= th
        return WRONG_COST * np.sum(answered & ~correct) + np.sum(~answered & answerable)

    assert all(cost(t) <= cost(other) for other in np.linspace(0, 1, 101))
    assert t > 0.5  # wrong answers cost more than refusals: answer only when fairly sure
