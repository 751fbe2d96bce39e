"""Named entities for the reply checker: jieba's part-of-speech tags for person, place,
organisation and other proper names, plus Latin-script names and 《titles》."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .verify import latin_and_titles

ENTITY_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})


class EntityTagger:
    """Callable: ``tagger(text) -> list[str]``. Builds its own jieba on first use (~2 s): the
    words it returns are spans of ``text`` as given (no folding), so they can be looked up
    in the passages."""

    def __init__(self, userdict: str | Path | None = None):
        self.userdict = userdict
        self._tagger: Any = None  # jieba.posseg.POSTokenizer, built on first use
        self._lock = threading.Lock()

    def _load(self):
        import jieba
        import jieba.posseg

        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        if self.userdict and Path(self.userdict).exists():
            tokenizer.load_userdict(str(self.userdict))
        return jieba.posseg.POSTokenizer(tokenizer)

    def __call__(self, text: str) -> list[str]:
        with self._lock:  # jieba's caches are not guarded
            if self._tagger is None:
                self._tagger = self._load()
            words = [w.word for w in self._tagger.cut(text) if w.flag in ENTITY_TAGS]
        return list(dict.fromkeys(latin_and_titles(text) + [w for w in words if len(w) >= 2]))
