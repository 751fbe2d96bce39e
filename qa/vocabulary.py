"""The jieba user dictionary, learned from the corpus being indexed (no hand-written list).

Terms are what the documents themselves mark or repeat as units: quoted or titled terms
(“…”, 《…》, 「…」) and frequent character n-grams that stand on their own (seen in at
least ``min_count`` places, with varied neighbours on both sides, not just part of a longer
frequent n-gram). Pure functions over strings; the sample is capped so a large corpus costs
no more than ``max_chars`` characters of counting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .text import fold

log = logging.getLogger(__name__)
VOCABULARY_FILE = "vocabulary.json"

QUOTED = re.compile(r"[“「《‘]([\u3400-\u9fffA-Za-z0-9]{2,8})[”」》’]")
CJK_RUN = re.compile(r"[\u3400-\u9fff]{3,}")
VERSION = 2  # of the rules below: a cached vocabulary of another version is recounted
MIN_N, MAX_N = 3, 6
# Closed-class characters that never open or close a term (particles, prepositions).
FUNCTION_CHARS = frozenset(
    "的了着过是在和与及或并等为对于把被将从向到以之其该这那此也都就而又则但得地要"
)


def quoted_terms(text: str) -> list[str]:
    return QUOTED.findall(text)


def word_bounds(words: Iterable[str]) -> set[int]:
    """Offsets where words start or end, for words that tile a string."""
    bounds, pos = {0}, 0
    for w in words:
        pos += len(w)
        bounds.add(pos)
    return bounds


def frequent_ngrams(
    texts: Iterable[str],
    cut: Callable[[str], Iterable[str]],
    min_count: int = 4,
    min_neighbours: int = 3,
) -> list[str]:
    """CJK n-grams (3–6 characters) of two or more whole words (``cut`` segments a run)
    that recur with varied left and right neighbours."""
    counts: Counter[str] = Counter()
    left: dict[str, set[str]] = defaultdict(set)
    right: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        for run in CJK_RUN.findall(text):
            bounds = word_bounds(cut(run))
            padded = f"^{run}$"
            for n in range(MIN_N, MAX_N + 1):
                for i in range(1, len(padded) - n):
                    if i - 1 not in bounds or i - 1 + n not in bounds:
                        continue
                    if sum(1 for b in range(i, i + n - 1) if b in bounds) == 0:
                        continue  # already one word
                    gram = padded[i : i + n]
                    counts[gram] += 1
                    left[gram].add(padded[i - 1])
                    right[gram].add(padded[i + n])
    keep = {
        g
        for g, c in counts.items()
        if g[0] not in FUNCTION_CHARS
        and g[-1] not in FUNCTION_CHARS
        and c >= min_count
        and len(left[g]) >= min_neighbours
        and len(right[g]) >= min_neighbours
    }
    # drop a gram that only ever occurs inside a longer kept gram
    return sorted(
        g
        for g in keep
        if not any(g != o and g in o and counts[o] >= counts[g] for o in keep if len(o) > len(g))
    )


LISTED = re.compile(r"([^、，,；：（）()]{2,12})[（(][\d.]+[^）)（(]{0,8}[）)]")


def listed_names(
    texts: Iterable[str], cut: Callable[[str], Iterable[str]], tag: Callable[[str], str]
) -> list[str]:
    """Names the corpus lists side by side with a value each (甲县（12.5万元）、乙县（9.8万元）、
    …): when most items of such a list are tagged as places, all of them are places."""
    names: set[str] = set()
    for text in texts:
        for sentence in re.split(r"[。；！？\n]", text):
            items = [list(cut(m))[-1] for m in LISTED.findall(sentence)]
            items = [i for i in items if len(i) >= 2 and re.fullmatch(r"[\u3400-\u9fff]+", i)]
            if len(items) >= 3 and sum(tag(i) in ("ns", "nrt") for i in items) * 2 >= len(items):
                names.update(items)
    return sorted(names)


def corpus_terms(
    texts: Iterable[str],
    cut: Callable[[str], Iterable[str]],
    tag: Callable[[str], str],
    max_chars: int = 2_000_000,
) -> dict[str, str]:
    """Dictionary entries for a corpus with their part-of-speech tag: quoted terms (nz),
    free-standing frequent n-grams (n) and places listed side by side (ns). Counted on the
    folded text (traditional script as simplified), which is what the tokenizer segments."""
    sample, size = [], 0
    for text in texts:
        if size >= max_chars:
            break
        sample.append(fold(text))
        size += len(text)
    terms = {t: "n" for t in frequent_ngrams(sample, cut)}
    named = {t for text in sample for t in quoted_terms(text)}
    # a term jieba already holds as one word (「国家」) keeps jieba's own tag
    terms.update({t: "nz" for t in named if len(list(cut(t))) > 1})
    terms.update({t: "ns" for t in listed_names(sample, cut, tag)})
    return dict(sorted(terms.items()))


def load_vocabulary(kb, tokenizer, index_dir: Path | None) -> dict[str, str]:
    """The corpus terms of ``kb``, cached as ``vocabulary.json`` in ``index_dir`` (keyed by
    a hash of the passage ids, i.e. of the indexed text) so a warm start does not recount them.
    The ids are the store's keys (content hashes as int64): no passage is read for the key."""
    key = vocabulary_key(kb)
    path = index_dir / VOCABULARY_FILE if index_dir else None
    if path is not None:
        try:
            cached = json.loads(path.read_text("utf-8"))
            if cached.get("fingerprint") == key:
                return dict(cached["terms"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    terms = corpus_terms((c.text for c in kb.chunks.values()), tokenizer.cut, tokenizer.tag_of)
    if path is not None and path.parent.is_dir():
        write_vocabulary(path, key, terms)
    return terms


def vocabulary_key(kb) -> str:
    """Names the indexed text of ``kb``: a hash of its passage ids (read from the vector
    index when the store has one: iterating a million stored passages takes seconds)."""
    ids = np.sort(kb.ids()).tolist() if hasattr(kb, "ids") else sorted(map(int, kb.chunks))
    blob = f"v{VERSION}\n" + "\n".join(map(str, ids))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def write_vocabulary(path: Path, key: str, terms: dict[str, str]) -> None:
    """Cache ``terms`` for the indexed text named ``key`` (``vocabulary_key``) at ``path``."""
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"fingerprint": key, "terms": terms}, ensure_ascii=False), "utf-8"
        )
        os.replace(tmp, path)
    except OSError as exc:  # a read-only index still answers; it just recounts next time
        log.warning("could not cache the vocabulary in %s: %s", path, exc)
