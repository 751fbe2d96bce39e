"""Any sentence-transformers model: a hub id (where a hub is reachable) or a local path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import normalise

# Prompts for well-known retrieval models whose saved config does not carry them.
KNOWN_PROMPTS = {
    "e5": ("query: ", "passage: "),
    "bge-small-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-base-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-large-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
}


def known_prompts(name: str) -> tuple[str, str]:
    base = name.rstrip("/").split("/")[-1].lower()
    for key, prompts in KNOWN_PROMPTS.items():
        if key in base:
            return prompts
    return "", ""


class SentenceTransformerEncoder:
    """Wraps a ``SentenceTransformer``; queries and passages get the model's own prompts
    ("query"/"document" in its config) or, failing that, the known ones for its name."""

    def __init__(
        self,
        model: str | Any,
        name: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        bf16: bool = False,
    ):
        if isinstance(model, str):
            from sentence_transformers import SentenceTransformer

            name = name or model
            model = SentenceTransformer(model, device=device)
        self._model = model
        self.name = name or "sentence-transformers"
        get_dim = getattr(model, "get_embedding_dimension", None)  # sentence-transformers >= 6
        dim = get_dim() if get_dim else model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError(f"{self.name}: the model does not say its embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        self.bf16 = bf16  # run matmuls in bfloat16 (about 2x faster where the CPU has it)
        prompts = getattr(model, "prompts", {}) or {}
        default_q, default_p = known_prompts(self.name)
        # sentence-transformers >= 6 fills in empty "query"/"document" prompts, so an
        # empty prompt means "none configured" and the known ones for the name apply.
        self.query_prompt = (
            query_prompt if query_prompt is not None else prompts.get("query") or default_q
        )
        self.passage_prompt = (
            passage_prompt
            if passage_prompt is not None
            else prompts.get("document") or prompts.get("passage") or default_p
        )

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            vectors = self._model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return normalise(vectors)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, progress)
