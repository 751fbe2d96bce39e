"""Combine lexical and dense scores. Pure functions over ``(n,)`` score arrays."""

from __future__ import annotations

import numpy as np


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale ``(n,)`` scores to [0, 1]; constant scores become 0."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.size == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / (hi - lo) if hi > lo else np.zeros_like(scores)


def weighted_fusion(lexical: np.ndarray, dense: np.ndarray, weight: float) -> np.ndarray:
    """``weight * minmax(lexical) + (1 - weight) * minmax(dense)``, each ``(n,)``."""
    return weight * minmax(lexical) + (1.0 - weight) * minmax(dense)


def reciprocal_rank_fusion(
    score_lists: list[np.ndarray], weights: list[float] | None = None, k: int = 60
) -> np.ndarray:
    """Weighted RRF of several ``(n,)`` score arrays over the same items: ``sum w / (k + rank)``."""
    weights = weights or [1.0] * len(score_lists)
    fused = np.zeros(len(score_lists[0]), dtype=np.float64)
    for scores, w in zip(score_lists, weights):
        ranks = np.empty(len(scores), dtype=np.int64)
        ranks[np.argsort(-np.asarray(scores), kind="stable")] = np.arange(1, len(scores) + 1)
        fused += w / (k + ranks)
    return fused.astype(np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest of ``(n,)`` scores, best first (ties by index).

    Partitions first, so a million scores cost milliseconds rather than a full sort."""
    scores, k = np.asarray(scores), max(k, 0)
    if k == 0 or 4 * k >= len(scores):
        return np.argsort(-scores, kind="stable")[:k]
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th largest
    candidates = np.flatnonzero(scores >= kth)  # in index order, so ties stay by index
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]
