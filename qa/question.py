"""What a question is about and what it asks: names, qualifiers, years, the asked attribute.

``analyse`` splits a question with jieba's part-of-speech tagger (plus the corpus's own terms,
which the tokenizer carries) into the parts the evidence must support. Pure apart from the
tokenizer; the word classes it relies on are in ``qa.lexicon``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon as lx
from .text import Tokenizer, fold


@dataclass(frozen=True)
class Frame:
    question: str
    kind: str  # list | year | number | reason | person | place | what | other
    unit: str  # measure word asked for ("家" in 多少家), or ""
    years: tuple[str, ...]  # "2017"
    relative_years: tuple[str, ...]  # 今年, 去年
    numbers: tuple[str, ...]  # other numbers the question names ("10" in 10亿元以上)
    levels: tuple[str, ...]  # 国家级, 省级
    scopes: tuple[str, ...]  # 规上, 累计, 新增…
    names: tuple[str, ...]  # proper names: places, organisations, people, products
    attribute: tuple[str, ...]  # words of the asked attribute ("工业", "总产值")
    about: tuple[str, ...]  # the other content words
    left: tuple[str, ...]  # content words before the question word, in order
    right: tuple[str, ...]  # content words after it
    nouns: tuple[str, ...] = ()  # content words tagged as nouns or names (2+ characters)
    places: tuple[str, ...] = ()  # names of places, organisations, people (not products)
    rank: bool = False  # asks for a position (第几)
    counted: tuple[str, ...] = ()  # what 多少家/几家 counts, in order (浙江省, 单项冠军, 企业)
    modifiers: tuple[str, ...] = ()  # nouns the question puts before the attribute (服务业)

    @property
    def required(self) -> tuple[str, ...]:
        return self.names + self.attribute + self.about


def question_kind(question: str) -> str:
    for kind, pattern in (
        ("list", lx.ASKS_LIST),
        ("year", lx.ASKS_YEAR),
        ("number", lx.ASKS_NUMBER),
        ("reason", lx.ASKS_REASON),
        ("person", lx.ASKS_PERSON),
        ("place", lx.ASKS_PLACE),
        ("what", lx.ASKS_WHAT),
    ):
        if pattern.search(question):
            return kind
    return "other"


def suffix_word_alone(word: str, previous_flag: str) -> bool:
    """One character and a place suffix with no noun before it is a word, not a place,
    whatever jieba's tag (成功|上市; but 前湾|新区 is part of a name)."""
    return bool(lx.SUFFIX_WORD.fullmatch(word)) and not previous_flag.startswith("n")


def _merge_places(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join a name and a following one-character place suffix (上虞 + 区 → 上虞区), a
    split question word (多 + 大 → 多大) and a split verb of totalling (加 + 起来)."""
    out: list[tuple[str, str]] = []
    for word, flag in tagged:
        if flag == "ns" and suffix_word_alone(word, out[-1][1] if out else ""):
            flag = "n"
        if out and word in "省市县区镇乡村州" and out[-1][1] in lx.NAME_FLAGS:
            out[-1] = (out[-1][0] + word, "ns")
        elif out and out[-1][0] == "多" and word in "大高长重远久宽深":
            out[-1] = ("多" + word, "r")
        elif out and out[-1][0] + word in lx.TOTAL_WORDS:  # 加|起来: one verb of totalling
            out[-1] = (out[-1][0] + word, "v")
        else:
            out.append((word, flag))
    return out


def _split_question_words(
    tagged: list[tuple[str, str]], tokenizer: Tokenizer
) -> list[tuple[str, str]]:
    """哪些地方 as 哪些|地方, 指标中多大 as 中|多大: the question word apart from the word
    jieba glued it to."""
    out: list[tuple[str, str]] = []
    for word, flag in tagged:
        m = lx.QUESTION_WORD_PREFIX.match(word)
        end = lx.QUESTION_WORD_SUFFIX.search(word) if m is None else None
        if m is not None:
            out += [(m.group(), "r"), *tokenizer.tagged(word[m.end() :])]
        elif end is not None:
            out += [*tokenizer.tagged(word[: end.start()]), (end.group(), "m")]
        else:
            out.append((word, flag))
    return out


def _place_levels(
    q: str, levels: tuple[str, ...], tagged: list[tuple[str, str]]
) -> tuple[str, ...]:
    """A level whose first character ends a place name (慈溪市|级) is that place's level:
    慈溪市级, not 市级."""
    starts, at = {}, 0
    for word, flag in tagged:
        for i in range(at, at + len(word)):
            starts[i] = (at, flag)
        at += len(word)
    out = []
    for m in lx.LEVEL.finditer(q):
        begin, flag = starts.get(m.start(), (m.start(), ""))
        level = m.group().replace("一级", "级")  # 市一级 is 市级
        if begin < m.start() and (flag in lx.NAME_FLAGS or flag.startswith("ns")):
            out.append(q[begin : m.start()] + level)
        elif level in levels:
            out.append(level)
    return tuple(dict.fromkeys(out))


def analyse(question: str, tokenizer: Tokenizer) -> Frame:
    """The question's frame, read from its folded text (traditional script as simplified,
    lower case), which is also what the evidence is matched in."""
    q = fold(question.strip())
    years = tuple(dict.fromkeys(lx.YEAR_IN_QUESTION.findall(q)))
    relative = tuple(w for w in lx.RELATIVE_YEARS if w in q)
    numbers = tuple(n for n in lx.NUMBER_IN_QUESTION.findall(q) if n not in years)
    said_levels = lx.LEVEL.findall(q)
    levels = tuple(dict.fromkeys(w.replace("一级", "级") for w in said_levels))
    scopes = tuple(
        s for s in lx.SCOPE if s in q and not any(s != o and s in o for o in lx.SCOPE if o in q)
    )
    unit_match = lx.UNIT_QUESTION.search(q)
    unit = unit_match.group(1) if unit_match else ""
    # tag the measure word apart from what follows it (多少家|规上企业, not 多少|家规|上企业),
    # and a link character apart from the noun before it (的人|为谁, not 人为|谁)
    cuts = {0, len(q)} | ({unit_match.end()} if unit_match else set())
    cuts |= {
        m.start()
        for m in lx.LINK_BEFORE_QUESTION.finditer(q)
        if not q.startswith(("为什么", "为何"), m.start())
    }
    ends = sorted(cuts)
    parts = [q[a:b] for a, b in zip(ends, ends[1:])]
    tagged = [t for part in parts if part for t in tokenizer.tagged(part)]
    tagged = _merge_places(_split_question_words(tagged, tokenizer))
    levels = _place_levels(q, levels, tagged)
    qword_at = None
    words: list[tuple[str, str, int]] = []  # (word, flag, position in tagged)
    for i, (word, flag) in enumerate(tagged):
        if qword_at is None and lx.QUESTION_WORD.fullmatch(word):
            qword_at = i
        words.append((word, flag, i))
    skip = set(levels) | set(said_levels) | set(scopes) | set(relative)

    def content(word: str, flag: str) -> bool:
        w = word.lower()
        return (
            bool(re.search(r"[\w]", w))
            and w not in tokenizer.stopwords
            and w not in lx.LINK_WORDS
            and w not in lx.PLACEHOLDER_WORDS
            and w not in lx.NOW_WORDS
            and not lx.QUESTION_WORD.fullmatch(w)
            and not lx.SELF_REFERENCE.fullmatch(w)
            and not re.fullmatch(r"[\d.%]+|年|月|日", w)
            and w != unit
            and not any(w in s.lower() for s in skip)
            and flag not in ("m", "q", "x", "uj", "ul", "p", "c", "r", "d", "f")
        )

    cut = qword_at if qword_at is not None else len(tagged)
    left = [(w, f) for w, f, i in words if i < cut and content(w, f)]
    right = [(w, f) for w, f, i in words if i > cut and content(w, f)]
    names = tuple(
        dict.fromkeys(
            w
            for w, f in left + right
            if f in lx.NAME_FLAGS or lx.PLACE_SUFFIX.search(w) and f.startswith("n")
        )
    )
    attribute = _attribute(tagged, cut, content, set(names), levels, rank="第几" in q)
    counted: list[str] = []
    if unit_match:  # 几家 浙江省 单项冠军 企业: the words up to the first non-content one
        at = 0
        for i, (word, flag) in enumerate(tagged):
            if at >= unit_match.end() and not any(word in x for x in skip):
                # a verb or a non-predicate adjective (民营, 国有) before a noun modifies it;
                # so does a word jieba tags as an adverb right before the phrase's last noun
                # (高新|企业？; not 已经|上市|的企业)
                after, end = (tagged[j][1] if j < len(tagged) else "x" for j in (i + 1, i + 2))
                adverb = flag == "d" and len(word) >= 2 and after in ("n", "nz", "j") and end == "x"
                modifier = (
                    adverb or (flag.startswith("v") or flag == "b") and _noun_at(tagged, i + 1)
                )
                nounish = flag[:1] == "n" or flag in ("j", "vn", "eng") or modifier
                if not content(word, "n" if adverb else flag) or not nounish:
                    break  # 培育|企业: a verb inside the phrase is part of it; 成功|上市 ends it
                counted.append(word)
            at += len(word)
    modifiers: list[str] = []  # 规模以上 服务业 | 企业研发机构覆盖率
    first = next((i for i, (w, _) in enumerate(tagged) if attribute and w == attribute[0]), 0)
    for word, flag in reversed(tagged[max(0, first - 2) : first]):
        # an organisation-like name before the asked noun qualifies it (新兴产业|投资)
        if not content(word, flag) or flag not in ("n", "nz", "nt", "vn", "j"):
            break
        if word in names and flag not in ("nt", "nz"):
            break
        modifiers.insert(0, word)
    places = tuple(
        w
        for w, f in left + right
        if w in names and (f in lx.PLACE_FLAGS or lx.PLACE_SUFFIX.search(w))
    )
    nouns = tuple(dict.fromkeys(w for w, f in left + right if len(w) >= 2 and f in lx.NOUN_FLAGS))
    about = tuple(
        dict.fromkeys(w for w, _ in left + right if w not in names and w not in attribute)
    )
    return Frame(
        question=q,
        kind=question_kind(q),
        unit=unit,
        years=years,
        relative_years=relative,
        numbers=numbers,
        levels=levels,
        scopes=scopes,
        names=names,
        attribute=attribute,
        about=about,
        left=tuple(w for w, _ in left),
        right=tuple(w for w, _ in right),
        nouns=nouns,
        places=places,
        rank="第几" in q,
        counted=tuple(counted),
        modifiers=tuple(modifiers),
    )


def _noun_at(tagged: list[tuple[str, str]], i: int) -> bool:
    """Is ``tagged[i]`` a noun (or a verb used as one)?"""
    return i < len(tagged) and (tagged[i][1][:1] == "n" or tagged[i][1] == "vn")


def _attribute(
    tagged, cut: int, content, names: set[str], levels=(), rank: bool = False
) -> tuple[str, ...]:
    """The noun phrase the question asks the value of: the nouns right after the question
    word (什么项目, 多少家企业), else up to three content words right before it (over link
    words such as 是/有/达到: 工业总产值是多少). A rank question's verb (排在第几) asks
    nothing of its own."""
    run: list[str] = []
    i = cut + 1
    while i < len(tagged) and tagged[i][1] in ("q", "m", "uj"):
        i += 1  # 多少 家 企业
    while i < len(tagged):
        word, flag = tagged[i]
        in_level = any(word in level for level in levels)  # 宁波市|级 of 宁波市级
        if lx.LEVEL.fullmatch(word) or word in lx.SCOPE or in_level:  # 多少家 省级 企业
            i += 1
            continue
        if not content(word, flag) or flag.startswith("v"):
            break
        if word not in names:
            run.append(word)
        i += 1
    if run:
        return tuple(run)
    # 总产值合计达到 / 年产值加在一起是: the noun before a verb of totalling asks; where no
    # noun stands before it (慈溪位列第几), the verb is kept (its absence is a gap)
    if rank:
        return _words_before(tagged, cut, content, names, lx.TOTAL_WORDS | lx.RANK_VERBS)
    return _words_before(tagged, cut, content, names, lx.TOTAL_WORDS) or _words_before(
        tagged, cut, content, names, frozenset()
    )


def _words_before(tagged, cut: int, content, names: set[str], skipped: frozenset) -> tuple:
    """Up to three content words before the question word, over link words (是/达到/排, 在全
    省, 2017年: 总额在全省排第几 → 总额) and the ``skipped`` ones."""
    run: list[str] = []
    i = cut - 1
    while i >= 0 and (
        tagged[i][0] in lx.LINK_WORDS
        or tagged[i][0] in skipped
        or tagged[i][0] in lx.PLACEHOLDER_WORDS  # 人才|数量|是多少 asks the 人才
        or tagged[i][1] in ("uj", "ul", "d", "p", "m", "q")
        or lx.SELF_REFERENCE.fullmatch(tagged[i][0])
        or tagged[i][0] in ("全国", "全球")
    ):
        i -= 1
    while i >= 0 and content(*tagged[i]) and tagged[i][0] not in names and len(run) < 3:
        run.insert(0, tagged[i][0])
        i -= 1
    return tuple(run)
