"""BM25 over jieba tokens (bm25s), with inverse document frequencies for other stages.

Saved as bm25s's own files (``.npy`` arrays and JSON, no pickle) and loaded memory-mapped,
so a million passages load in about a second and are paged in as queries touch them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .text import Tokenizer

log = logging.getLogger(__name__)

EMPTY = "<empty>"  # the one token of a passage that has none


def token_ids(texts: Iterable[str], tokenizer: Tokenizer) -> tuple[dict[str, int], list[list[int]]]:
    """The vocabulary (token -> id, in order of first use) and each text's token ids,
    streamed: one copy of each distinct token is kept, not a list of strings per passage
    (a million passages of ~200 tokens would be ~10 GB of strings; as ids they are ~1.6 GB,
    every id an entry of the same few int objects)."""
    vocab: dict[str, int] = {}
    ids = []
    for text in texts:
        ids.append([vocab.setdefault(t, len(vocab)) for t in tokenizer.tokens(text) or [EMPTY]])
    return vocab, ids


class BM25Index:
    """Scores every document for a query: ``scores(q) -> (n_docs,) float32``."""

    def __init__(
        self, texts: Iterable[str], tokenizer: Tokenizer, k1: float = 1.2, b: float = 0.75
    ):
        import bm25s

        self.tokenizer = tokenizer
        self.key = tokenizer.key()  # the dictionary it was built with (``Tokenizer.key``)
        vocab, ids = token_ids(texts, tokenizer)
        self.n_docs = len(ids)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if ids:
            self._bm25.index((ids, vocab), show_progress=False)
        self._set_df()

    def _set_df(self) -> None:
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        self._vocab = vocab
        indptr = self._bm25.scores["indptr"] if vocab else np.zeros(1, np.int64)
        self._df = np.diff(np.asarray(indptr)).astype(np.int64)  # documents per term id

    @classmethod
    def load(
        cls,
        folder: str | Path,
        tokenizer: Tokenizer | None = None,
        mmap: bool = True,
        key: str = "",
    ) -> BM25Index:
        """An index written by ``save``; ``mmap`` leaves the arrays on disk until touched.
        Set ``tokenizer`` (one whose ``key()`` is ``key``, as at build) before scoring."""
        import bm25s

        self = cls.__new__(cls)
        self.tokenizer = tokenizer  # type: ignore[assignment]
        self.key = key
        self._bm25 = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        self.n_docs = int(self._bm25.scores["num_docs"])
        self._set_df()
        return self

    def save(self, folder: str | Path) -> None:
        if self.n_docs:
            self._bm25.save(str(folder), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        if not self.n_docs:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in self.tokenizer.tokens(query) if t in self._vocab]
        if not terms:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def document_frequency(self, term: str) -> int:
        """How many documents hold ``term`` (an index token, lower-cased)."""
        i = self._vocab.get(term)
        return int(self._df[i]) if i is not None and i < len(self._df) else 0

    df = document_frequency

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term absent from the corpus gets the most."""
        df = self.df(term)
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))
