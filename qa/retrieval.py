"""Hybrid retrieval: BM25 over jieba tokens fused with dense inner-product search."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import cast

import numpy as np

from embeddings import Encoder

from .fusion import top_k, weighted_fusion
from .lexical import BM25Index
from .records import Chunk, Passage
from .stores import KnowledgeBase, indexed_text
from .text import Tokenizer

__all__ = ["Retriever", "indexed_text", "lexical_index"]


def lexical_index(kb: KnowledgeBase, tokenizer: Tokenizer) -> BM25Index:
    """BM25 over the knowledge base's passages, in its order (streamed from the store)."""
    return BM25Index((indexed_text(c) for c in kb.chunks.values()), tokenizer)


class Retriever:
    """Scores every chunk lexically and the best ``candidates`` densely, fuses the
    min-max normalised scores with ``lexical_weight``, and returns the top passages."""

    def __init__(
        self,
        kb: KnowledgeBase,
        encoder: Encoder,
        tokenizer: Tokenizer,
        lexical_weight: float = 0.6,
        candidates: int = 100,
    ):
        self.kb = kb
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.lexical_weight = lexical_weight
        self.candidates = candidates
        self.refresh()

    def refresh(self) -> None:
        """Take the knowledge base's lexical index, or build it (and hand it to the knowledge
        base, which saves it), after the knowledge base changed or was loaded without one.
        A store that ranks both sides itself (Milvus: ``hybrid``) lends its term statistics."""
        if hasattr(self.kb, "hybrid"):
            self.ids = np.zeros(0, dtype=np.int64)
            self.bm25: BM25Index = cast(BM25Index, self.kb.lexical)  # Milvus: same methods
            self.bm25.tokenizer = self.tokenizer
            return
        self.ids = self.kb.ids()  # position -> passage id
        self._by_id = np.argsort(self.ids, kind="stable")
        lexical = self.kb.lexical
        if (
            lexical is None
            or lexical.n_docs != len(self.ids)
            or lexical.key != self.tokenizer.key()  # built with another dictionary
        ):
            lexical = lexical_index(self.kb, self.tokenizer)
            self.kb.lexical = lexical
        lexical.tokenizer = self.tokenizer
        self.bm25 = lexical

    def positions(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions (in ``self.ids``) of passage ids."""
        wanted = np.asarray(ids, dtype=np.int64)
        return self._by_id[np.searchsorted(self.ids, wanted, sorter=self._by_id)]

    def score_many(
        self, queries: Sequence[str], vectors: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, lexical and dense scores of every chunk (``(n_chunks,)`` each); chunks
        outside a query's dense candidates get its lowest candidate score."""
        scores, hits = self.kb.search_ids(vectors, self.candidates)
        out = []
        for query, row, row_hits in zip(queries, scores, hits):
            dense = np.full(len(self.ids), row.min() if row.size else 0.0, np.float32)
            dense[self.positions(row_hits)] = row[: len(row_hits)]
            out.append((self.bm25.scores(query), dense))
        return out

    def chunks_at(self, positions: Sequence[int] | np.ndarray) -> list[Chunk]:
        """The passages at ``positions`` (indices of the score arrays), in that order."""
        return self.kb.chunks.many([int(self.ids[i]) for i in positions])

    def search(
        self, query: str, k: int = 5, sources: Collection[str] | None = None
    ) -> list[Passage]:
        return self.search_many([query], k, sources)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 5, sources: Collection[str] | None = None
    ) -> list[list[Passage]]:
        """Top ``k`` passages per query, best first; query vectors are embedded in one batch.

        ``sources`` (document names) keeps only those documents' chunks: the fused scores
        of the others are dropped before the top ``k`` are taken. ``None`` searches all."""
        if hasattr(self.kb, "hybrid"):
            vectors = self.encoder.encode_queries(list(queries))
            rows = self.kb.hybrid(
                queries, vectors, k, self.lexical_weight, self.candidates, sources
            )
            return [[Passage(*found) for found in row] for row in rows]
        if not len(self.ids):
            return [[] for _ in queries]
        vectors = self.encoder.encode_queries(list(queries))
        allowed = None if sources is None else self._allowed(sources)
        results = []
        for lexical, dense in self.score_many(queries, vectors):
            fused = weighted_fusion(lexical, dense, self.lexical_weight)
            if allowed is None:
                best = top_k(fused, k)
            else:
                masked = np.where(allowed, fused, -np.inf)
                best = top_k(masked, k)
                best = best[allowed[best]]
            chunks = self.chunks_at(best)
            results.append(
                [Passage(c, float(fused[i]), float(dense[i])) for c, i in zip(chunks, best)]
            )
        return results

    def _allowed(self, sources: Collection[str]) -> np.ndarray:
        """``(n_chunks,)`` mask of the passages that belong to one of ``sources``."""
        mask = np.zeros(len(self.ids), dtype=bool)
        fids = [f for source in set(sources) for f in self.kb.chunks.fids_of(source)]
        if fids:
            mask[self.positions(fids)] = True
        return mask
