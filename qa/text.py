"""Chinese word segmentation (jieba) shared by every lexical component."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path

from .resources import USERDICT

DEFAULT_USERDICT = USERDICT

# Function words and question words: they say what is asked, not what about.
STOPWORDS = frozenset(
    """的 地 得 了 着 过 是 在 和 与 及 或 并 等 有 为 对 于 把 被 将 从 向 到 以 之 其 该 这 那
    此 也 都 就 而 又 则 但 吗 呢 吧 啊 呀 么 哪 哪些 哪里 哪个 哪家 哪年 哪一年 什么 啥 多少 几
    几个 几家 几年 是否 怎么 怎样 如何 为什么 为何 谁 请问 请 一下 那么 还 个 一个 是什么
    我 我们 你 您 想 想问 知道 告诉 麻烦 帮 帮忙 查 查询 问问 能否 能不能""".split()
)
_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)


class Tokenizer:
    """A private jieba tokenizer with a user dictionary (domain terms), safe to share
    between threads once built."""

    def __init__(
        self,
        userdict: str | Path | None = DEFAULT_USERDICT,
        stopwords: Iterable[str] = STOPWORDS,
    ):
        import jieba

        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        if userdict and Path(userdict).exists():
            self._jieba.load_userdict(str(userdict))
        self.stopwords = frozenset(stopwords)
        self._lock = threading.Lock()

    def words(self, text: str) -> list[str]:
        """Fine-grained words (jieba's search mode), lower-cased, without punctuation."""
        with self._lock:  # jieba's lazy caches are not guarded
            raw = list(self._jieba.cut_for_search(text))
        return [w.lower() for w in raw if _WORD.search(w)]

    def tokens(self, text: str) -> list[str]:
        """Index terms: ``words`` without stopwords."""
        return [w for w in self.words(text) if w not in self.stopwords]

    def add_word(self, word: str) -> None:
        with self._lock:
            self._jieba.add_word(word)
