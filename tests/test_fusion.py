"""Score fusion: min-max scaling, weighted fusion, reciprocal rank fusion, top-k."""

from __future__ import annotations

import numpy as np
import pytest

from qa.fusion import minmax, reciprocal_rank_fusion, top_k, weighted_fusion


def brute_top_k(scores, k):
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: max(k, 0)]


def brute_ranks(scores):
    """1-based rank of each item: higher score first, ties by index."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = [0] * len(scores)
    for r, i in enumerate(order, start=1):
        ranks[i] = r
    return ranks


# --- minmax ----------------------------------------------------------------------------


def test_minmax_random():
    rng = np.random.default_rng(0)
    for _ in range(50):
        s = rng.normal(size=int(rng.integers(2, 30))) * 10
        got = minmax(s)
        want = (s - s.min()) / (s.max() - s.min())
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert got.min() == 0.0 and abs(got.max() - 1.0) < 1e-6


def test_minmax_edge_cases():
    np.testing.assert_array_equal(minmax(np.array([3.0, 3.0, 3.0])), [0, 0, 0])
    np.testing.assert_array_equal(minmax(np.array([7.0])), [0])
    assert minmax(np.array([], dtype=np.float32)).shape == (0,)
    np.testing.assert_allclose(minmax([0, 2, 4]), [0, 0.5, 1])  # lists and ints are fine
    np.testing.assert_allclose(minmax(np.array([-2.0, -1.0])), [0, 1])


# --- weighted fusion ----------------------------------------------------------------------


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
def test_weighted_fusion_matches_formula(weight):
    rng = np.random.default_rng(1)
    lexical = rng.exponential(size=40) * 12  # BM25-like scale
    dense = rng.uniform(-0.2, 0.9, size=40)  # cosine-like scale
    lexical[:5] = 0.0
    got = weighted_fusion(lexical, dense, weight)
    lo = (lexical - lexical.min()) / (lexical.max() - lexical.min())
    de = (dense - dense.min()) / (dense.max() - dense.min())
    np.testing.assert_allclose(got, weight * lo + (1 - weight) * de, rtol=1e-5, atol=1e-6)
    assert got.min() >= -1e-6 and got.max() <= 1 + 1e-6


def test_weighted_fusion_weight_extremes_follow_one_side():
    lexical = np.array([0.0, 5.0, 1.0, 0.0])
    dense = np.array([0.9, 0.1, 0.5, 0.2])
    assert list(top_k(weighted_fusion(lexical, dense, 1.0), 2)) == [1, 2]
    assert list(top_k(weighted_fusion(lexical, dense, 0.0), 2)) == [0, 2]


def test_weighted_fusion_no_lexical_match_keeps_dense_order():
    dense = np.array([0.2, 0.8, 0.5])
    fused = weighted_fusion(np.zeros(3), dense, 0.5)
    assert list(np.argsort(-fused)) == [1, 2, 0]


# --- reciprocal rank fusion ---------------------------------------------------------------


def test_rrf_matches_brute_force_with_ties():
    rng = np.random.default_rng(2)
    for _ in range(30):
        n = int(rng.integers(1, 25))
        lists = [rng.integers(0, 4, size=n).astype(np.float32) for _ in range(3)]
        weights = list(rng.uniform(0.1, 2.0, size=3))
        k = int(rng.integers(1, 80))
        want = np.zeros(n)
        for scores, w in zip(lists, weights):
            want += [w / (k + r) for r in brute_ranks(list(scores))]
        got = reciprocal_rank_fusion(lists, weights, k)
        assert got.dtype == np.float32 and got.shape == (n,)
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_rrf_default_weights_and_small_example():
    got = reciprocal_rank_fusion([np.array([3.0, 1.0, 3.0]), np.array([0.0, 5.0, 1.0])])
    want = [1 / 61 + 1 / 63, 1 / 63 + 1 / 61, 1 / 62 + 1 / 62]
    np.testing.assert_allclose(got, want, rtol=1e-6)


# --- top_k ----------------------------------------------------------------------------------


def test_top_k_matches_brute_force_distinct_scores():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        scores = rng.normal(size=n).astype(np.float32)
        k = int(rng.integers(0, n + 5))
        got = top_k(scores, k)
        assert got.dtype == np.int64
        assert list(got) == brute_top_k(list(scores), k)


def test_top_k_with_ties_returns_the_best_scores_in_order():
    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        scores = rng.integers(0, 4, size=n).astype(np.float32)
        k = int(rng.integers(0, n + 5))
        got = list(top_k(scores, k))
        want = brute_top_k(list(scores), k)
        assert len(got) == len(want) == len(set(got))
        assert [scores[i] for i in got] == [scores[i] for i in want]  # the k best, best first
        for a, b in zip(got, got[1:]):  # ties among the returned ones by index
            assert scores[a] > scores[b] or a < b


def test_top_k_edge_cases():
    assert list(top_k(np.array([], dtype=np.float32), 3)) == []
    assert list(top_k(np.array([1.0, 2.0]), 0)) == []
    assert list(top_k(np.array([1.0, 2.0]), -1)) == []
    assert list(top_k(np.array([1.0, 3.0, 2.0]), 10)) == [1, 2, 0]


def test_top_k_ties_at_the_cut_prefer_lower_index():
    assert list(top_k(np.ones(300, dtype=np.float32), 3)) == [0, 1, 2]
    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        scores = rng.integers(0, 4, size=n).astype(np.float32)
        k = int(rng.integers(0, n + 5))
        assert list(top_k(scores, k)) == brute_top_k(list(scores), k)


@pytest.mark.parametrize("n,k", [(10_000, 5), (10_000, 100), (50, 10), (1000, 249)])
def test_top_k_partitioned_path_matches_a_full_stable_sort(n, k):
    rng = np.random.default_rng(n + k)
    scores = rng.integers(0, 50, size=n).astype(np.float32) / 7  # many ties
    want = np.argsort(-scores, kind="stable")[:k]
    np.testing.assert_array_equal(top_k(scores, k), want)
