"""The encoder interface and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into float32, L2-normalised vectors of shape ``(n, dim)``."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); float32 ``(n, dim)``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        vectors = vectors.reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class FakeEncoder:
    """Hashes character unigrams and bigrams into ``dim`` buckets: fast, deterministic,
    and similar texts get similar vectors, so retrieval tests are meaningful."""

    def __init__(self, dim: int = 64, name: str = "fake"):
        self.dim = dim
        self.name = name

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
            for gram in grams:
                if gram.strip():
                    h = hashlib.blake2b(gram.encode("utf-8"), digest_size=4).digest()
                    out[row, int.from_bytes(h, "little") % self.dim] += 1.0
        return normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts)
