"""BM25 over jieba tokens (bm25s), with inverse document frequencies for other stages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .text import Tokenizer


class BM25Index:
    """Scores every document for a query: ``scores(q) -> (n_docs,) float32``."""

    def __init__(
        self, texts: Sequence[str], tokenizer: Tokenizer, k1: float = 1.2, b: float = 0.75
    ):
        import bm25s

        self.tokenizer = tokenizer
        self.n_docs = len(texts)
        corpus = [tokenizer.tokens(t) or ["<empty>"] for t in texts]
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if corpus:
            self._bm25.index(corpus, show_progress=False)
        df: dict[str, int] = {}
        for doc in corpus:
            for term in set(doc):
                df[term] = df.get(term, 0) + 1
        self._df = df

    def scores(self, query: str) -> np.ndarray:
        if not self.n_docs:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in self.tokenizer.tokens(query) if t in self._df]
        if not terms:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def document_frequency(self, term: str) -> int:
        """How many documents hold ``term`` (an index token, lower-cased)."""
        return self._df.get(term, 0)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term absent from the corpus gets the most."""
        df = self._df.get(term, 0)
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))
