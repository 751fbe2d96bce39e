"""Chinese word segmentation (jieba) shared by every lexical component."""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

# Function words and question words: they say what is asked, not what about.
STOPWORDS = frozenset(
    """的 地 得 了 着 过 是 在 和 与 及 或 并 等 有 为 对 于 把 被 将 从 向 到 以 之 其 该 这 那
    此 也 都 就 而 又 则 但 吗 呢 吧 啊 呀 么 哪 哪些 哪里 哪个 哪家 哪年 哪一年 什么 啥 多少 几
    几个 几家 几年 是否 怎么 怎样 如何 为什么 为何 谁 请问 请 一下 那么 还 个 一个 是什么
    我 我们 你 您 想 想问 知道 告诉 麻烦 帮 帮忙 查 查询 问问 能否 能不能""".split()
)
_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Traditional → simplified, character for character (OpenCC's TSCharacters table,
    first choice), so folded text keeps every offset of the original."""
    from importlib import resources

    text = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text("utf-8")
    table = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 1 and len(parts[1]) == 1:
            table[ord(parts[0])] = parts[1]
    return table


# What a typed or pasted question may carry that is no part of it: terminal colour codes,
# markup (a script with its content), control and invisible format characters.
_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_MARKUP = re.compile(
    r"<(script|style)\b[^>]*>.*?</\1\s*>|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>",
    re.IGNORECASE | re.DOTALL,
)


def plain_text(text: str) -> str:
    """``text`` without terminal escapes, markup tags and control or format characters
    (tabs and newlines become spaces)."""
    text = _MARKUP.sub("", _TERMINAL_ESCAPE.sub("", text))
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf")
    )


_NUMERAL_DIGITS = dict(zip("零一二两三四五六七八九", (0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9)))
_NUMERAL_UNITS = {"十": 10, "百": 100, "千": 1000}
# a figure in Chinese numerals before a magnitude (十亿, 三千五百万), not a word (千万别)
_NUMERAL_FIGURE = re.compile(
    r"[零一二两三四五六七八九十百千]+(?=[万亿](?:元|美元|人|吨|亩|以上|以下|多|余|的|$))"
)


def chinese_int(numeral: str) -> int:
    """三千五百 → 3500, 十五 → 15, 百 → 100 (numerals below 10,000)."""
    total = current = 0
    for ch in numeral:
        if ch in _NUMERAL_UNITS:
            total += (current or 1) * _NUMERAL_UNITS[ch]
            current = 0
        else:
            current = _NUMERAL_DIGITS[ch]
    return total + current


def numerals_as_digits(text: str) -> str:
    """Figures written in Chinese numerals before 万/亿 as digits (超过十亿元 → 超过10亿元), so
    that they compare with figures in digits; for matching only (lengths change)."""
    return _NUMERAL_FIGURE.sub(lambda m: str(chinese_int(m.group())), text)


def fold(text: str) -> str:
    """Text for matching: simplified script, lower case, same length as ``text``."""
    return text.translate(_t2s_table()).lower()


def _pos_tokenizer(tokenizer):
    """``jieba.posseg.POSTokenizer(tokenizer)``, its word-tag table copied from the one
    ``jieba.posseg`` parsed from the same dictionary at import, instead of parsing the
    dictionary file again (1.2 s of every start). A copy: this tokenizer's words stay its own."""
    import jieba.posseg

    shared = jieba.posseg.dt
    if tokenizer.dictionary != shared.tokenizer.dictionary:
        return jieba.posseg.POSTokenizer(tokenizer)
    pos = object.__new__(jieba.posseg.POSTokenizer)
    pos.tokenizer = tokenizer
    pos.word_tag_tab = dict(shared.word_tag_tab)
    return pos


class Tokenizer:
    """A private jieba tokenizer, safe to share between threads once built. Its user
    dictionary comes from the corpus (``add_words`` with ``qa.vocabulary.corpus_terms``)."""

    def __init__(
        self,
        userdict: str | Path | None = None,
        stopwords: Iterable[str] = STOPWORDS,
    ):
        import jieba
        import jieba.posseg

        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        if userdict and Path(userdict).exists():
            self._jieba.load_userdict(str(userdict))
        self._pos = _pos_tokenizer(self._jieba)
        self.stopwords = frozenset(stopwords)
        self.added: set[str] = set()
        self._lock = threading.Lock()

    def cut(self, text: str) -> list[str]:
        """jieba's default (accurate-mode) segmentation, every character kept."""
        with self._lock:
            return list(self._jieba.cut(fold(text)))

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech flag) pairs, jieba's tag set (ns place, nr person, …)."""
        with self._lock:
            return [(p.word, p.flag) for p in self._pos.cut(fold(text))]

    def tag_of(self, word: str) -> str:
        """jieba's part-of-speech flag for one word as a whole ("x" when unknown)."""
        tagged = self.tagged(word)
        return tagged[0][1] if len(tagged) == 1 else "x"

    def words(self, text: str) -> list[str]:
        """Fine-grained words (jieba's search mode), lower-cased, without punctuation."""
        with self._lock:  # jieba's lazy caches are not guarded
            raw = list(self._jieba.cut_for_search(fold(text)))
        return [w.lower() for w in raw if _WORD.search(w)]

    def tokens(self, text: str) -> list[str]:
        """Index terms: ``words`` without stopwords."""
        return [w for w in self.words(text) if w not in self.stopwords]

    def add_word(self, word: str, tag: str | None = None) -> None:
        self.add_words({word: tag})

    def key(self) -> str:
        """Names the dictionary (the words added): a BM25 index built with one key is
        only valid for a tokenizer with the same key."""
        with self._lock:
            blob = "\n".join(sorted(self.added))
        return hashlib.blake2b(blob.encode("utf-8"), digest_size=8).hexdigest()

    def add_words(self, words: Mapping[str, str | None]) -> None:
        """Add dictionary entries (terms the corpus defines) with their part-of-speech tags
        for ``tagged``; known ones are skipped."""
        with self._lock:
            for word, tag in words.items():
                if word not in self.added:
                    self._jieba.add_word(word, tag=tag)
                    self.added.add(word)
