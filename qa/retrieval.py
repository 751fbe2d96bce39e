"""Hybrid retrieval: BM25 over jieba tokens fused with dense inner-product search."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from embeddings import Encoder

from .fusion import top_k, weighted_fusion
from .lexical import BM25Index
from .records import Chunk, Passage
from .store import KnowledgeBase
from .text import Tokenizer


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and matched for a chunk: its heading path, then its text."""
    return f"{chunk.section_path}\n{chunk.text}" if chunk.section else chunk.text


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
        """Rebuild the lexical side after the knowledge base changed."""
        self.chunks: list[Chunk] = list(self.kb.chunks.values())
        self._position = {c.id: i for i, c in enumerate(self.chunks)}
        self.bm25 = BM25Index([indexed_text(c) for c in self.chunks], self.tokenizer)

    def score_many(
        self, queries: Sequence[str], vectors: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, lexical and dense scores of every chunk (``(n_chunks,)`` each); chunks
        outside a query's dense candidates get its lowest candidate score."""
        scores, hits = self.kb.search(vectors, self.candidates)
        out = []
        for query, row, row_hits in zip(queries, scores, hits):
            dense = np.full(len(self.chunks), row.min() if row.size else 0.0, np.float32)
            dense[[self._position[c.id] for c in row_hits]] = row[: len(row_hits)]
            out.append((self.bm25.scores(query), dense))
        return out

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
        if not self.chunks:
            return [[] for _ in queries]
        vectors = self.encoder.encode_queries(list(queries))
        allowed = None if sources is None else self._allowed(sources)
        results = []
        for lexical, dense in self.score_many(queries, vectors):
            fused = weighted_fusion(lexical, dense, self.lexical_weight)
            order = top_k(fused, len(fused) if allowed is not None else k)
            if allowed is not None:
                order = order[allowed[order]][:k]
            results.append([Passage(self.chunks[i], float(fused[i])) for i in order])
        return results

    def _allowed(self, sources: Collection[str]) -> np.ndarray:
        """``(n_chunks,)`` mask of the chunks that belong to one of ``sources``."""
        wanted = set(sources)
        return np.array([c.source in wanted for c in self.chunks], dtype=bool)
