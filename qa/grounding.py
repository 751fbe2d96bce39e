"""Is each part of the question supported by the evidence? (names, years, levels, terms)

The evidence is one sentence of a passage; its *window* adds the sentence before it, the
passage's heading path and the document title. A name found only elsewhere in the passage is
a soft gap (``name_far``: the passage is about it, the sentence may be), unless the sentence
speaks of the document's own place (我市, or the subject by name) — then it is a hard one.
A document's own subject (the place a report is about, learned from the document) counts as
said everywhere in it, so "我市" in a report on a city supports that city — and a question
about another place is not answered by "我市" sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from . import lexicon as lx
from .question import Frame, suffix_word_alone
from .text import Tokenizer, fold

# Why a question was refused, for the user; {term} / {subject} are filled in. The order is
# the order of precedence: of several gaps, the reason of the first kind is shown.
REASONS = {
    "name": "资料中没有提到“{term}”的相关内容。",
    "name_subject": "资料中只有{subject}的这项数据，没有{term}的。",
    "level": "资料中没有“{term}”的相关数据。",
    "scope": "资料中没有“{term}”口径的这项数据。",
    "year": "资料中没有{term}的相关数据。",
    "unknown": "资料中没有提到“{term}”。",
    "number": "资料中没有提到“{term}”。",
    "value": "资料中没有给出“{term}”的具体数值。",
    "names": "资料中只给出了“{term}”的数量，没有列出具体是哪些。",
    "person": "找到的段落没有给出所问的人或单位的名字。",
    "which": "资料中没有指明是哪一个“{term}”。",
    "event": "资料中没有提到“{term}”的时间。",
    "attribute": "资料中没有关于“{term}”的内容。",
    "type": "资料中没有关于“{term}”的内容。",
    "name_far": "资料中没有把“{term}”与所问内容联系起来。",
    "attribute_far": "找到的段落中没有提到“{term}”。",  # the corpus has the word elsewhere
    "type_far": "资料中没有找到能回答这个问题的内容。",  # the answer's type word: rarely said
    "weak": "资料中没有找到能回答这个问题的内容。",
    "unsure": "找到的段落与问题相关，但不能确定它们回答了这个问题：请看下面可能相关的段落。",
    "followup": (
        "这像是接着上一个问题的追问，但没有上一个问题：请把问题问完整（问的是哪里、哪一年的什么）。"
    ),
}
# gaps that rule an answer out; the others are features the model weighs
HARD_GAPS = (
    "year",
    "level",
    "scope",
    "name",
    "number",
    "value",
    "names",
    "event",
    "attribute",
)  # not "type"


@dataclass(frozen=True)
class Gap:
    kind: str  # a key of REASONS
    term: str


def strip_place_suffix(name: str) -> str:
    return lx.PLACE_SUFFIX.sub("", name) if len(name) > 2 else name


class TermMatcher:
    """Does a text contain a term? Whole, without its place suffix, or as all of its
    sub-words (工业产值 ≈ 工业 + 产值, found in 工业总产值)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self._parts: dict[str, tuple[str, ...]] = {}

    def parts(self, term: str) -> tuple[str, ...]:
        if term not in self._parts:
            words = [w for w in self.tokenizer.words(term) if w != term and len(w) >= 2]
            self._parts[term] = tuple(dict.fromkeys(words))
        return self._parts[term]

    def found(self, term: str, text: str) -> bool:
        term = fold(term)
        if term in text or strip_place_suffix(term) in text:
            return True
        if len(term) == 2 and term[1] in lx.RESULT_COMPLEMENT and term[0] in text:
            return True  # 获得 ≈ 获 (获授权专利)
        parts = self.parts(term)
        return bool(parts) and all(p in text for p in parts)


def phrase_starts(words: Iterable[str], text: str, slack: int = 4) -> list[int]:
    """Where the words occur in order, close together (at most ``slack`` characters between
    neighbours: 工业 + 产值 in 工业总产值, not 企业 … 技术中心 a clause apart); [0] for none."""
    words = [fold(w) for w in words]
    if not words:
        return [0]

    def from_(i: int, at: int) -> bool:
        if i == len(words):
            return True
        start = text.find(words[i], at)
        while start >= 0 and start - at <= slack:
            if from_(i + 1, start + len(words[i])):
                return True
            start = text.find(words[i], start + 1)
        return False

    out, first = [], text.find(words[0])
    while first >= 0:
        if from_(1, first + len(words[0])):
            out.append(first)
        first = text.find(words[0], first + 1)
    return out


def phrase_found(words: Iterable[str], text: str, slack: int = 4) -> bool:
    return bool(phrase_starts(words, text, slack))


def other_modifier(tagged: list[tuple[str, str]], at: int) -> bool:
    """Does another noun qualify the phrase starting at ``at`` of the ``tagged`` sentence
    (工程|技术中心, or 技术 inside the word 工程技术)?"""
    pos = 0
    previous = ("", "")
    for word, flag in tagged:
        if pos <= at < pos + len(word):
            return pos < at or (previous[1].startswith("n") and len(previous[0]) >= 2)
        previous, pos = (word, flag), pos + len(word)
    return False


SUBJECT_SAMPLE_CHARS = 5000  # a document's opening says what it is about; tagging costs ~0.1 s/5k
SUBJECT_VERSION = 3  # bump when ``document_subject`` changes: cached subjects are then relearned


def document_subject(title: str, texts: Iterable[str], tokenizer: Tokenizer) -> str:
    """The place or organisation a document is about: the most frequent name of its title
    and opening text (self-references such as 我市 count for the subject)."""
    sample = title + "\n" + "\n".join(texts)[:SUBJECT_SAMPLE_CHARS]
    counts: Counter[str] = Counter()
    before = ""
    for word, flag in tokenizer.tagged(sample):
        alone, before = suffix_word_alone(word, before), flag
        if alone:
            continue
        if (
            len(word) >= 2
            and flag in ("ns", "nrt", "nt")
            or lx.PLACE_SUFFIX.search(word)
            and flag == "ns"
        ):
            counts[strip_place_suffix(word)] += 3 if word in title else 1
    return counts.most_common(1)[0][0] if counts else ""


def document_region(texts: Iterable[str], tokenizer: Tokenizer, subject: str = "") -> str:
    """The province a document names most often as such (浙江 for …浙江省…), other than its
    own ``subject``; "" when it names none. In a report on a place of that province, its
    全省 and 省级 speak of it."""
    counts: Counter[str] = Counter()
    for text in texts:
        for m in lx.PROVINCE_NAMED.finditer(text):
            for word, flag in tokenizer.tagged(m.group()):
                if flag == "ns" and len(word) >= 3 and word.endswith("省"):
                    counts[fold(word[:-1])] += 1
    counts.pop(fold(subject), None)
    return counts.most_common(1)[0][0] if counts else ""


def document_year(date: str) -> int | None:
    """The year of a document's ISO date (``2018-10`` → 2018), None when unknown."""
    return int(date[:4]) if re.match(r"\d{4}", date or "") else None


def resolve_relative_years(text: str, year: int | None) -> str:
    """今年/去年/前年/明年 as the years they mean in a document of ``year`` (in a 2020 report
    去年 is 2019年); the text unchanged when the document's year is unknown."""
    if year is None:
        return text
    return lx.RELATIVE_YEAR.sub(lambda m: f"{year + lx.RELATIVE_YEARS[m.group()]}年", text)


def with_its_year(text: str, year: int | None) -> str:
    """A relative year said alone, with the year it means in a document of ``year``
    (今年 → 今年（2020年）); the text unchanged otherwise."""
    if year is None or not lx.RELATIVE_YEAR.fullmatch(text):
        return text
    return f"{text}（{year + lx.RELATIVE_YEARS[text]}年）"


@dataclass(frozen=True)
class Support:
    gaps: tuple[Gap, ...]
    sentence_cov: float  # weighted share of required words in the sentence
    window_cov: float  # … in the window
    attribute_cov: float  # share of the attribute's words in the sentence
    attribute_whole: bool  # the attribute's words stand together in the sentence
    scope_missing: int
    has_value: bool  # the sentence holds a value of the asked kind (number, year, list)
    bigram_cov: float = 0.0  # share of the question's character pairs in the sentence
    bigram_window: float = 0.0  # … in the window
    passage_cov: float = 0.0  # weighted share of required words in the whole passage
    bigram_passage: float = 0.0  # share of the question's character pairs in the passage

    @property
    def hard(self) -> bool:
        return any(g.kind in HARD_GAPS for g in self.gaps)


def bigrams(text: str) -> set[str]:
    """Character pairs of a folded text's word runs (question words and punctuation out)."""
    runs = re.split(r"\W+|_", lx.QUESTION_WORD.sub(" ", text))
    return {r[i : i + 2] for r in runs for i in range(len(r) - 1)}


def bigram_share(pairs: set[str], text: str) -> float:
    return sum(1 for p in pairs if p in text) / len(pairs) if pairs else 0.0


def said_otherwise(verb: str, text: str, matcher: TermMatcher) -> bool:
    """Does a verb of ``text`` share a character with ``verb`` — one-character ``verb`` held
    anywhere (建 of 建成), a longer one at the same end (建造 for 建立, 主办 for 举办; not
    完成 for 成立)?"""

    def shares(word: str) -> bool:
        if len(verb) == 1:
            return verb in word
        return word[0] == verb[0] or word[-1] == verb[-1]

    return any(
        flag.startswith("v") and shares(word) for word, flag in matcher.tokenizer.tagged(text)
    )


def said_numbers(question: str, number: str) -> Iterator[re.Match]:
    """Where the (folded) question says ``number`` as a number of its own: not part of a longer
    figure (11,000), a code (A380) or a time (44年, 8月: said in many ways, the year checks see
    to them)."""
    pattern = rf"(?<![\d.,A-Za-z]){re.escape(number)}(?![\d.,]|年|月|日|号)"
    return re.finditer(pattern, fold(question))


def question_number(question: str, number: str) -> str:
    """The number as the question says it, with its magnitude and unit (5000亿元); "" where
    the question never says it as a number of its own (see said_numbers)."""
    for m in said_numbers(question, number):
        value = lx.VALUE.match(fold(question), m.start())
        return value.group() if value else number
    return ""


def _has_number(number: str, text: str) -> bool:
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 176,300 is 176300
    return bool(re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", plain))


def attribute_clause(sentence: str, attribute: tuple[str, ...]) -> str:
    """The ；-separated clause of ``sentence`` that alone holds the whole ``attribute``
    (folded), else the sentence."""
    whole = "".join(attribute)
    clauses = re.split(r"[；;]", sentence)
    holding = [c for c in clauses if whole and whole in c]
    return holding[0] if len(clauses) > 1 and len(holding) == 1 else sentence


def asked_term(frame: Frame) -> str:
    """What a refusal names as asked: the attribute, else the last word before the question
    word, else the first after it."""
    return "".join(frame.attribute) or "".join(frame.left[-1:]) or "".join(frame.right[:1])


NUMERAL_END = re.compile(r"[一二两三四五六七八九十百千万亿多余]$")


def values_of(sentence: str, unit: str) -> list[re.Match]:
    """Numbers (with magnitude and unit) in a sentence; with ``unit``, those ending in it."""
    found = [  # a Chinese numeral counts only with its measure word (三家, not 之一)
        m
        for m in lx.VALUE.finditer(sentence)
        if re.search(r"\d", m.group())
        or re.search(r"[^一二两三四五六七八九十百千万亿多余]$", m.group())
        or "分之" in m.group()  # 三分之一
    ]
    if unit:
        found = [m for m in found if m.group().endswith(unit) or f"{unit}/" in m.group()]
    return found


def ground(
    frame: Frame,
    sentence: str,
    near: str,
    window: str,
    subject: str,
    matcher: TermMatcher,
    weight: Callable[[str], float],
    known: Callable[[str], bool],
    passage: str = "",
    doc_year: int | None = None,
    region: str = "",
) -> Support:
    """Check every part of ``frame`` against the evidence: names and levels against the
    sentence with its heading path and title (``near``), years and unknown words against the
    ``window`` that adds the sentence before; a name only the rest of the ``passage`` holds is
    a soft gap. 今年/去年, in the question and in the evidence, are the years they mean in a
    document dated ``doc_year``. A question naming the document's own place and its
    ``region`` (慈溪…在浙江89个县里排第几) finds the region in the sentence's 全省 or 省级,
    unless the sentence gives the province a figure of its own (全省（6.8%）: whose value is
    which is then not checked)."""
    # the years asked: the question's own, and its 今年/去年 read against the document's
    # date (unresolved words stay words); each named to the user as said (去年（2019年）)
    resolved = (
        {}
        if doc_year is None
        else {w: str(doc_year + lx.RELATIVE_YEARS[w]) for w in frame.relative_years}
    )
    years = tuple(
        dict.fromkeys(frame.years + tuple(resolved.get(w, w) for w in frame.relative_years))
    )
    said = {y: f"{y}年" for y in years} | {y: f"{w}（{y}年）" for w, y in resolved.items()}
    if resolved:
        question = resolve_relative_years(frame.question, doc_year)
        frame = replace(frame, years=years, question=question, relative_years=())
    sentence, near, window, passage = (
        fold(resolve_relative_years(t, doc_year)) for t in (sentence, near, window, passage)
    )
    gaps: list[Gap] = []
    # of a sentence listing several measures (…利润率从2013年的5.2%…；…产值率从2003年的…),
    # the asked one's clause says which years it is given for
    own = attribute_clause(sentence, frame.attribute)
    stated = set(lx.YEAR.findall(own))
    for year in years:  # a sentence that names other years speaks of those
        if year.isdigit():
            if year not in window or (stated and year not in own):
                gaps.append(Gap("year", said[year]))
        elif year not in window:  # 去年 of a document with no date: only its own word
            gaps.append(Gap("year", year))
    subject_l = fold(subject)
    previous = window[: len(window) - len(near)]  # the sentence before (fold keeps lengths)

    def speaks_of_own(text: str) -> bool:  # 我市…, or the document's subject by name
        return bool(lx.SELF_REFERENCE.search(text)) or bool(subject_l) and subject_l in text

    for level in frame.levels:
        own = strip_place_suffix(fold(level)[:-1])  # 慈溪市级 → 慈溪: that place's own figure
        if fold(level) in sentence:
            continue
        if not lx.LEVEL.fullmatch(level) and own == subject_l:
            generic = lx.LEVEL.search(fold(level))  # 慈溪市级 in a report on 慈溪 is its 市级
            if not lx.LEVEL.search(sentence) or generic and generic.group() in sentence:
                continue
        gaps.append(Gap("level", level))

    def is_own(base: str) -> bool:
        return bool(subject_l) and (base == subject_l or base in subject_l and len(base) >= 2)

    bases = [strip_place_suffix(fold(n)) for n in frame.names]
    in_province = (
        bool(region)
        and any(map(is_own, bases))
        and bool(lx.PROVINCE_REFERENCE.search(near))
        and (frame.rank or not lx.PROVINCE_FIGURE.search(sentence))  # a rank is no figure
    )
    for name, base in zip(frame.names, bases):
        if is_own(base) or in_province and base == fold(region):
            continue
        place = name in frame.places

        def named(text: str) -> bool:  # a place inside another name (X(宁波)Y) is not named
            return matcher.found(name, lx.NAME_INFIX.sub("", text) if place else text)

        if not named(near):  # the sentence, or the one it continues, speaks of the own place
            own_place = speaks_of_own(sentence) or (speaks_of_own(previous) and not named(previous))
            far = named(passage) and not (place and own_place)
            gaps.append(Gap("name_far" if far else "name", name))
    for number in frame.numbers:  # 哪一年突破5000亿元: a figure the passage never gives
        figure = question_number(frame.question, number)
        if figure and not any(_has_number(number, t) for t in (window, passage)):
            gaps.append(Gap("number", figure))
    for term in frame.nouns:
        if not known(term) and not matcher.found(term, window):
            gaps.append(Gap("unknown", term))
    unsaid = [s for s in frame.scopes if not any(v in window for v in lx.SCOPE_SAME.get(s, (s,)))]
    scope_missing = len(unsaid)
    if frame.kind == "number":  # 规上/累计/人均… change the figure: 全市工业总产值 is not 规上's
        gaps += [Gap("scope", s) for s in unsaid]
    required = frame.required + frame.years

    def present(term: str, text: str) -> bool:
        base = strip_place_suffix(fold(term))
        return bool(subject_l) and base == subject_l or matcher.found(term, text)

    total = sum(weight(t) for t in required) or 1.0
    sentence_cov = sum(weight(t) for t in required if present(t, sentence)) / total
    window_cov = sum(weight(t) for t in required if present(t, window)) / total
    whole_text = window + passage
    passage_cov = sum(weight(t) for t in required if present(t, whole_text)) / total
    attribute = frame.attribute
    if attribute and attribute[-1] in lx.SHARE_WORDS and lx.SHARE.search(sentence):
        attribute = attribute[:-1]  # 多大比例用于工业 of …指标的35%用于工业: the share is said
    attribute_cov = (
        sum(1 for t in attribute if matcher.found(t, sentence)) / len(attribute)
        if attribute
        else 1.0
    )
    whole = fold("".join(attribute))
    attribute_whole = not attribute or whole in sentence
    nouns = [w for w in attribute if w in frame.nouns]
    held = [w for w in nouns if w in sentence]
    starts = phrase_starts(held, sentence)
    if nouns and not any(matcher.found(w, sentence) for w in nouns):
        starts = []  # none of the asked nouns said (产品|产值|率 of …利润率): nothing bound
    qualified = (bool(held) and held[0] != nouns[0]) or (  # its first word missing: 企业|技术中心
        any(not matcher.found(w, window) for w in frame.modifiers)  # 服务业|企业…覆盖率
    )
    tagged = matcher.tokenizer.tagged(sentence) if qualified else []
    if qualified and all(other_modifier(tagged, at) for at in starts):
        starts = []  # the sentence's 工程技术中心 is not the question's 企业技术中心
    bound = matcher.found(attribute[-1], sentence) and bool(starts) if attribute else True
    if not bound and len(attribute) == 1 and len(attribute[0]) == 1:
        # 慈溪建了几个 of …建成省级认定小微企业园11个: a one-character verb asked is said by a
        # verb holding it (建成); a longer word must be said as it is (增加 is no 新增)
        bound = said_otherwise(attribute[0], sentence, matcher)
    if frame.kind != "number" and attribute and not matcher.found(attribute[-1], whole_text):
        # what is asked about is not in the passage: after the question word it names the
        # answer's type (哪个朝代: 宋朝), a gap of its own; a word the corpus uses elsewhere
        # is a soft "_far" gap, the model weighs it
        kind = "type" if attribute[-1] in frame.right else "attribute"
        gaps.append(Gap(kind + ("_far" if known(attribute[-1]) else ""), attribute[-1]))
    if frame.kind == "year" and not any(g.kind.startswith("attribute") for g in gaps):
        # 哪一年成立: the event after the question word is what the year is of. Where the
        # sentence (or the one before) does not say it, its time is that of something else,
        # unless the passage never uses the word and a verb there may say it otherwise
        # (建造 for 建立: a verb sharing a character)
        event = [w for w in frame.right if len(w) >= 2 and w not in lx.PHASE_WORDS][:1]
        if event and not matcher.found(event[0], window):
            if matcher.found(event[0], passage) or not said_otherwise(event[0], window, matcher):
                gaps.append(Gap("event", event[0]))
    if frame.kind == "number" and not bound:
        gaps.append(Gap("value", "".join(attribute)))  # the number would be of something else
    qualifying = [w for w in frame.counted[:-1] if strip_place_suffix(fold(w)) != subject_l]
    head = frame.counted[-1] if frame.counted else ""
    if frame.kind == "number" and (
        # 几家浙江省单项冠军企业: counted in the sentence only where its words stand together
        len(qualifying) >= 2
        and not phrase_found(qualifying, near)
        # 几家高新企业: 高新…企业 must stand together too where the sentence has both words
        # (not 高新技术产业开发区……26家企业)
        or len(qualifying) == 1
        and qualifying[0] in sentence
        and head in sentence
        and not phrase_found([*qualifying, head], sentence)
    ):
        gaps.append(Gap("value", "".join(frame.counted)))
    if frame.kind == "number":
        has_value = bool(
            lx.RANK.search(sentence) if frame.rank else values_of(sentence, frame.unit)
        )
        if not has_value:  # 是多少 asked of a sentence without a number
            gaps.append(Gap("value", asked_term(frame)))
    elif frame.kind == "year":
        has_value = bool(lx.YEAR.search(sentence))
        if lx.ASKS_YEAR_ONLY.search(frame.question) and not lx.ANY_YEAR.search(sentence):
            what = "".join(frame.right) or asked_term(frame)
            gaps.append(Gap("event", what))  # 哪一年 asked of a sentence without a year
    elif frame.kind == "list":
        has_value = "、" in sentence or "和" in sentence
    else:
        has_value = True
    pairs = bigrams(fold(frame.question))
    return Support(
        tuple(gaps), sentence_cov, window_cov, attribute_cov, attribute_whole, scope_missing,
        has_value, bigram_share(pairs, sentence), bigram_share(pairs, window), passage_cov,
        bigram_share(pairs, whole_text),
    )  # fmt: skip


# the most telling first
REASON_ORDER = tuple(REASONS)  # the first kind among the gaps gives the reason


def reason(gaps: Iterable[Gap], subject: str) -> str:
    """The user-facing reason for the most telling hard gap, else the generic one."""
    for gap in sorted(gaps, key=lambda g: REASON_ORDER.index(g.kind)):
        if gap.kind == "name" and subject:
            return REASONS["name_subject"].format(term=gap.term, subject=subject)
        if gap.kind in REASONS:
            return REASONS[gap.kind].format(term=gap.term)
    return REASONS["weak"]
