"""The short answer inside an evidence sentence: the value, the name, the whole list.

Pure string functions. The asked span is found from the question's frame: a name's own value
in a comparison (乙县（12.5万元）) or a "respectively" sentence (甲、乙分别有12家、7家), else the
first value of the asked kind after the attribute, else the gap between the question's words
to the left and right of its question word, as they appear in the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from . import lexicon as lx
from .grounding import (
    NUMERAL_END,
    TermMatcher,
    phrase_starts,
    said_numbers,
    strip_place_suffix,
    values_of,
)
from .question import Frame
from .text import chinese_int, fold, numerals_as_digits

MAX_SPAN = 40
MAX_PLACE_PHRASE = 12  # a where-answer's whole phrase (环杭州湾智能产业园), not a clause
MIN_COUNTED_CHARS = 4  # a counted phrase this long names one kind of thing (高新技术企业)
COUNTED_SLACK = 2  # characters between the counted phrase's words (几家高新企业: 高新技术企业)
_ARTICLE = re.compile(r"一[个座种位名家所条部项次]")  # 是一座…: an article, not a count
_RANGE = r"(?:至|到|-|－|~|～|—)"
_TIME = re.compile(f"{lx.TIME_SPAN.pattern}|{lx.RELATIVE_YEAR.pattern}")  # …and 今年, 去年
_LISTED_AFTER = r"[\u3400-\u9fff]{0,2}(?=[（(][\d.]|、|分别)"  # 乙县（12.5…, 乙县、, 乙县分别
_PAREN_VALUE = r"\s*[（(]([^（）()]{1,30})[）)]"
_RESPECTIVELY = re.compile(r"([^，。；：]*?)分别(?:为|是|有|达到|达|占|增长|实现)?([^，。；]*)")
_ITEM = r"(?:[^，。；：:、（）()“”]|“[^，。；：:、“”]{1,12}”){1,20}"  # a quoted name inside
_ENUM = re.compile(rf"{_ITEM}(?:、{_ITEM})+(?:(?:和|及|以及|与){_ITEM})?")
_LEAD_VERBS = re.compile(
    r"^(?:其中|包括|是|为|有|在|位于|叫|叫做|称为|达到|达|由|于|的|了|：|:"
    r"|来自|以(?![上下来前后内外及])|通过|按照|依照|根据)+"  # …the means before it (以“五有”标准)
)
_LEAD_REST = re.compile(r"^[^，。；：:、\d]{1,2}?(?:是|为|叫做|称为|位于)")  # 下为白色… → 白色…
_TRAIL = re.compile(r"(?:的|了|等|，|,|。)+$")


def _find(term: str, text: str, start: int = 0) -> tuple[int, int] | None:
    for candidate in (term, strip_place_suffix(term)):
        at = text.find(candidate, start)
        if at >= 0:
            return at, at + len(candidate)
    return None


def _not_question_number(span: str, frame: Frame) -> bool:
    return not any(span.startswith(y) for y in frame.years) and not any(
        re.match(rf"{re.escape(n)}(?!\d)", span) for n in frame.numbers
    )


def respectively(frame: Frame, sentence: str) -> str:
    """甲、乙分别有12家、7家 → the value for the name the question asks about."""
    m = _RESPECTIVELY.search(sentence)
    if not m:
        return ""
    heads = re.split(r"[、和及与]", m.group(1).split("，")[-1])
    values = [v.group() for v in values_of(m.group(2), frame.unit)] or re.split(
        r"[、和]", m.group(2)
    )
    if len(heads) < 2 or len(values) < len(heads):
        return ""
    for name in frame.names + frame.about:
        for i, head in enumerate(heads):
            if strip_place_suffix(name) and strip_place_suffix(name) in head:
                return values[i].strip()
    return ""


def comparison(frame: Frame, sentence: str, subject: str = "") -> str:
    """名（值） or 名值: the value right after a name the question asks about (not the
    document's own subject, which the whole text is about), in a comparison of what the
    question asks: its attribute said before the name (亩均税收…低于余姚（35.6万元）answers 余姚's
    亩均税收, not its 亩均增加值, said only after)."""
    head = frame.attribute[-1].lower() if frame.attribute else ""

    def of_head(at: int, compared: bool) -> bool:
        # in a comparison (名（值）), the measure last given a value before the name is the
        # asked one (…亩均增加值90.1万元，低于淳安（120.3万元） is 淳安's 亩均增加值, not the
        # 亩均税收 said earlier)
        before = sentence[:at]
        measures = re.findall(r"[\u3400-\u9fff]+(?=\d)", before) if compared else []
        return head in before and (not measures or head in measures[-1])

    def first(pattern: str, compared: bool = False) -> re.Match | None:
        hits = (m for m in re.finditer(pattern, sentence) if of_head(m.start(), compared))
        return next(hits, None)  # the first of them after the attribute

    for name in frame.places:
        if subject and strip_place_suffix(name) == subject:
            continue
        for candidate in dict.fromkeys((name, strip_place_suffix(name))):
            m = first(re.escape(candidate) + r"[\u3400-\u9fff]{0,2}" + _PAREN_VALUE, True)
            if m and values_of(m.group(1), ""):
                return m.group(1).strip()
            m = first(re.escape(candidate) + r"(?:[\u3400-\u9fff]{0,3}?)(?=\d)")
            if m and "分别" in m.group():
                m = None
            if m:
                values = values_of(sentence[m.end() :], frame.unit)
                if values and values[0].start() == 0:
                    return values[0].group()
            for named in re.finditer(re.escape(candidate), sentence):  # 47位|罗德学者
                at = named.start()
                before = [v.group() for v in values_of(sentence[:at], frame.unit) if v.end() == at]
                if (
                    before
                    and not lx.YEAR.fullmatch(before[0])
                    and _not_question_number(before[0], frame)
                ):
                    return before[0]
    return ""


def anchor(frame: Frame, sentence: str, matcher: TermMatcher) -> int:
    """Where the asked value should follow: after the last attribute word (or the question's
    year) found in the sentence; 0 when none is. Of several places that word stands, the one
    whose clause holds most of the question's other words and numbers (建成投用5亿元以上项目
    18个, not 产业项目47个 earlier in the sentence); the first of equals."""
    end = 0
    terms = frame.attribute or frame.left[-2:]
    lowered = sentence.lower()
    context = [w.lower() for w in frame.left if w not in terms]
    numbers = [re.compile(rf"(?<![\d.]){re.escape(n)}(?![\d.])") for n in frame.numbers]
    for term in terms:
        best: tuple[int, int] | None = None
        for candidate in dict.fromkeys((term.lower(), strip_place_suffix(term.lower()))):
            for m in re.finditer(re.escape(candidate), lowered):
                clause = lowered[_clause_start(lowered, m.start()) : m.start()]
                held = sum(w in clause for w in context) + sum(
                    bool(n.search(clause)) for n in numbers
                )
                if best is None or held > best[0]:
                    best = (held, m.end())
            if best is not None:
                break
        if best is not None:
            end = max(end, best[1])
    if not end:
        for year in frame.years:
            at = sentence.find(year)
            if at >= 0:
                end = at + len(year)
    return end


def _clause_start(sentence: str, at: int) -> int:
    """Where the clause holding position ``at`` begins (after the last ，；。 before it)."""
    breaks = [sentence.rfind(mark, 0, at) for mark in "，,；;。"]
    return max(breaks) + 1


def named_in(frame: Frame, sentence: str, subject: str) -> list[str]:
    """Places and organisations of the question (other than the document's subject) that
    the sentence holds side by side with other names — a comparison, where each value
    belongs to one of them."""
    asked = [
        n
        for n in frame.places
        if strip_place_suffix(n) != subject and _find(n, sentence) is not None and len(n) >= 2
    ]
    in_list = [
        a
        for a in asked
        if any(
            re.search(re.escape(n) + _LISTED_AFTER, sentence) or "、" + n in sentence
            for n in (a, strip_place_suffix(a))
        )
    ]
    if not in_list:
        return []  # the name is not one of the listed ones (亚太基金会由…、…出资)
    listed = [
        x
        for x in re.findall(r"[\u3400-\u9fff]{2,4}(?=[（(][\d.]|、|分别)", sentence)
        if not NUMERAL_END.search(x)  # 约二、三十万: numbers, not names
    ]
    others = {strip_place_suffix(x) for x in listed} - {strip_place_suffix(a) for a in asked}
    return in_list if others else []


def adjacent_count(frame: Frame, sentence: str, subject: str = "") -> str:
    """几家高新技术企业 asks the count written right after that phrase (…高新技术企业153家),
    not one of something it only qualifies (高新技术企业研究开发中心5家); the phrase may
    leave out its last noun (宁波市单项冠军4家 for 几家宁波市单项冠军企业). "" when the
    question counts a phrase shorter than ``MIN_COUNTED_CHARS`` (几家企业: too common to
    tell) or the sentence has no such count."""
    words = _counted_words(frame, subject)
    if not words:
        return ""
    whole, shorter = "".join(words), "".join(words[:-1])
    apart = f"[^，。；、,;]{{0,{COUNTED_SLACK}}}".join(map(re.escape, words))  # 高新…企业
    for phrase, length in ((re.escape(whole), len(whole)), (re.escape(shorter), len(shorter)),
                           (apart, len(whole))):  # fmt: skip
        if length < MIN_COUNTED_CHARS:
            continue
        for match in re.finditer(phrase, sentence):
            at, end = match.span()
            before = [v for v in values_of(sentence[:at], frame.unit) if v.end() == at]
            if before:  # 47位院士学者
                return before[-1].group()
            rest = sentence[end : end + 12]
            values = values_of(rest, frame.unit)
            if (
                values
                and values[0].start() <= 2
                and not _LIST_BREAK.search(rest[: values[0].start()])
            ):
                return values[0].group()  # 高新技术企业153家, …共有153家
    return ""


_LIST_BREAK = re.compile(r"[、，,；;。：:]")


def _counted_words(frame: Frame, subject: str) -> list[str]:
    """What a count question (几家X) counts, without the document's own subject; [] when it
    asks no count or X is shorter than ``MIN_COUNTED_CHARS``."""
    words = [w for w in frame.counted if strip_place_suffix(w) != subject]
    return words if frame.unit and len("".join(words)) >= MIN_COUNTED_CHARS else []


def names_counted(frame: Frame, sentence: str, subject: str = "") -> bool:
    """Does the sentence name the whole of what the question counts?"""
    words = _counted_words(frame, subject)
    return bool(words) and "".join(words) in sentence


def counts_elsewhere(frame: Frame, sentence: str, subject: str = "") -> bool:
    """The sentence names what the question counts, but no count of it (高新技术企业
    研究开发中心5家 for 几家高新技术企业): the value there is of something else."""
    return names_counted(frame, sentence, subject) and not adjacent_count(frame, sentence, subject)


def level_value(frame: Frame, sentence: str) -> str | None:
    """With a level qualifier (国家级) in the question, the value right after that level in
    the sentence (…其中国家级2家、省级55家 → 2家); None when the question has no level."""
    levels = [level for level in frame.levels if lx.LEVEL.fullmatch(level)]  # not 慈溪市级
    if not levels or not any(level in sentence for level in levels):
        return None
    for level in levels:
        for m in re.finditer(re.escape(level), sentence):
            rest = sentence[m.end() : m.end() + 40]  # 省级认定小微企业园11个
            lead = re.match(r"[\u3400-\u9fff]{0,24}?(?=[\d一二两三四五六七八九十])", rest)
            if lead is None or len(lead.group()) > 9 and not _only_asked(lead.group(), frame):
                continue  # …市级战略性新兴产业增加值仅有27.9亿元: the asked words may stand between
            if lead.group() and not _names_asked(lead.group(), level, frame):
                continue  # 省级企业研究院3家 does not count 省级高新技术企业
            values = values_of(rest[lead.end() :], frame.unit)
            if values and values[0].start() == 0:
                return values[0].group()
    return ""


def _names_asked(lead: str, level: str, frame: Frame) -> bool:
    """Does the text between a level and its value hold the question's words after that
    level (省级|高新技术企业), but perhaps the last noun (国家级单项冠军3家 for 国家级单项冠军
    企业)?"""
    question = fold(frame.question)
    after = question[question.find(level) + len(level) :]
    asked = sorted((after.find(w), w) for w in set(frame.attribute + frame.counted) if w in after)
    if not asked:
        return True
    last = asked[-1][1]  # 单项冠军(企业): it may leave out its last noun
    held = len(asked) > 1 or any(last[:k] in lead for k in range(len(last), 1, -1))
    return held and all(w in lead for _, w in asked[:-1])


def _only_asked(text: str, frame: Frame) -> bool:
    """Is ``text`` the question's own words, give or take a short link (仅有, 达到)?"""
    for word in frame.left:
        text = text.replace(word, "", 1)
    return len(text) <= 4


def asks_share(frame: Frame) -> bool:
    """占多大比重 / 多大比例: a percentage or a fraction answers, no amount (2072.3亿元)."""
    return bool(frame.attribute) and frame.attribute[-1] in lx.SHARE_WORDS


def number_answer(frame: Frame, sentence: str, matcher: TermMatcher, subject: str = "") -> str:
    """A value of the asked kind (a share for 多大比重). When the sentence names another place
    or organisation the question asks about, only a value bound to that name will do
    (乙县（12.5万元）, 甲、乙分别有12家、7家): any other number there belongs to someone else."""
    found = _number_answer(frame, sentence, matcher, subject)
    if found and _of_another_figure(frame, sentence, found):
        return ""  # 江阴超过十亿元的企业 of …江阴年产值超百亿元的企业就有18家
    if found and _counts_a_group(frame, sentence, found):
        return ""  # 引进院士、领军专家等顶尖人才30名: 30 counts them all, not the 院士
    return "" if found and asks_share(frame) and not lx.SHARE.search(found) else found


def _counts_a_group(frame: Frame, sentence: str, value: str) -> bool:
    """``value`` counts a group the asked noun is only one of: it follows 等 and a noun
    (…院士、专家等顶尖人才30名), and the asked noun stands before that 等."""
    at = sentence.find(value)
    if at < 0:
        return False
    start = max(_clause_start(sentence, at), sentence.rfind("（", 0, at) + 1)
    clause = sentence[start:at]
    group = re.search(r"等[\u3400-\u9fff]{1,8}$", clause)
    if group is None:
        return False
    asked = frame.attribute[-1:] or frame.counted[-1:]
    return any(w in clause[: group.start()] for w in asked)


def _number_answer(frame: Frame, sentence: str, matcher: TermMatcher, subject: str) -> str:
    if frame.rank:
        ranks = lx.RANK.findall(sentence)
        return ranks[0] if ranks else ""
    found = respectively(frame, sentence) or comparison(frame, sentence, subject)
    if _unasked_gap(found, frame):
        return ""  # 低于宁波市平均10个百分点: a gap of rates, no 增加值 of 宁波
    if found or named_in(frame, sentence, subject):
        return found
    if _number_unbound(frame, sentence):
        return ""
    by_level = level_value(frame, sentence)
    if by_level is not None:
        return "" if _place_qualifies_another(frame, sentence, by_level, subject) else by_level
    found = adjacent_count(frame, sentence, subject)
    if found and _place_qualifies_another(frame, sentence, found, subject):
        return ""
    if found or names_counted(frame, sentence, subject):
        return found  # "" where the sentence counts something else (counts_elsewhere)
    counted = counted_value(frame, sentence)
    if counted:
        return counted
    aligned = aligned_value(frame, sentence)
    if aligned:
        return aligned
    at = anchor(frame, sentence, matcher)
    # the clause holding the question's year comes first ("2003年…突破1000亿元，2017年…")
    for year in frame.years:
        y = sentence.find(year + "年")
        if y >= 0:
            at = max(at, y) if at < y else at
    spans = [
        m
        for m in values_of(sentence, frame.unit)
        if _not_question_number(m.group(), frame)
        and (frame.unit or not _ARTICLE.fullmatch(m.group()))
        and (not asks_share(frame) or lx.SHARE.search(m.group()))
    ]
    if frame.unit:
        spans = [m for m in spans if not _counts_other_noun(sentence, m, frame, matcher, "after")]
        if not spans:
            return ""
    after = [m for m in spans if m.start() >= at]
    chosen = after[0] if after else (spans[-1] if spans else None)
    if chosen is not None:
        chosen = _paired_in_parens(frame, sentence, chosen, spans)
    if chosen is not None and not lx.ASKS_BEFORE.search(frame.question):
        chosen = _changed_to(sentence, chosen, spans)
    if chosen is not None and _unasked_gap(chosen.group(), frame):
        return ""
    if chosen is not None and _counts_kind_of(sentence, chosen, _counted_words(frame, subject)):
        return ""
    if (
        chosen is not None
        and not frame.unit
        and _counts_other_noun(sentence, chosen, frame, matcher, "before")
    ):
        return ""  # 产值 asked, 年产值超亿元企业422家 written: a count of 企业, not a 产值
    return (
        _with_range(sentence, chosen, _with_prefix(sentence, chosen, frame.question))
        if chosen
        else ""
    )


def places_naming_a_kind(frame: Frame, sentence: str, subject: str) -> list[re.Match]:
    """Where an asked place (not the document's subject) stands in the sentence right before
    what the question counts (宁波市|单项冠军): there it names a kind of its own."""
    counted = [w for w in frame.counted if strip_place_suffix(w) != subject]
    return [
        m
        for place in frame.places
        if len(place) >= 2 and strip_place_suffix(place) != subject and place not in counted
        for m in re.finditer(re.escape(place), sentence)
        if any(sentence.startswith(w, m.end()) for w in counted)
    ]


def _place_qualifies_another(frame: Frame, sentence: str, value: str, subject: str) -> bool:
    """宁波市有几家国家级单项冠军企业 of …国家级单项冠军3家、宁波市单项冠军4家: a value outside
    the list item where the asked place names a kind of its own (3家) counts another kind."""
    for m in places_naming_a_kind(frame, sentence, subject):
        start = max(sentence.rfind(c, 0, m.start()) for c in "、，,；;。") + 1
        ends = [e for e in (sentence.find(c, m.end()) for c in "、，,；;。") if e >= 0]
        if value not in sentence[start : min(ends, default=len(sentence))]:
            return True
    return False


def _unasked_gap(value: str, frame: Frame) -> bool:
    """A value in 百分点 is a difference of rates: no answer to a question about an amount."""
    return value.endswith("百分点") and not lx.ASKS_RATE.search(frame.question)


_FIGURE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?[万亿]|(?<![\d.])[万亿](?=元)")


def _figures(text: str) -> list[str]:
    """Figures with their magnitude (10亿, 5000万; Chinese numerals as digits; a bare 亿元 of
    超亿元 or 亿元以上 is 1亿)."""
    found = _FIGURE.findall(numerals_as_digits(text))
    return [f if f[0].isdigit() else "1" + f for f in found]


def _question_figures(frame: Frame) -> list[str]:
    return _figures(fold(frame.question))


def _of_another_figure(frame: Frame, sentence: str, value: str) -> bool:
    """``value`` counts things above another figure than the question's: the last figure
    said before it is not one the question names (…江阴年产值超百亿元的企业就有18家 for 超过
    十亿元; …10亿元以上企业仅15家，而萧山区、诸暨区分别有47家、35家 for 超过百亿元)."""
    figures = _question_figures(frame)
    at = sentence.find(value)
    if not figures or at < 0:
        return False
    said = _figures(sentence[:at])
    return bool(said) and said[-1] not in figures


def _number_unbound(frame: Frame, sentence: str) -> bool:
    """10亿元以上企业有多少家: the question's number belongs to the words after it, up to the
    attribute (10亿元以上); a sentence with those words but never after that number
    (100-200亿元以上, 500亿元以上) counts other things. Chinese numerals count as digits."""
    question = numerals_as_digits(fold(frame.question))
    sentence = numerals_as_digits(sentence)
    numbers = [n for n in lx.NUMBER_IN_QUESTION.findall(question) if n not in frame.years]
    for number in numbers:
        for m in said_numbers(question, number):
            rest = question[m.end() :]
            hits = sorted((rest.find(w), w) for w in frame.attribute if w in rest)
            if not hits:
                continue
            at, word = hits[0]
            words = rest[:at] or word
            if len(words) <= 6 and words in sentence:
                if not re.search(rf"(?<![\d.]){re.escape(number)}{re.escape(words)}", sentence):
                    return True
    return False


def _paired_in_parens(frame: Frame, sentence: str, m: re.Match, spans: list[re.Match]) -> re.Match:
    """…总产值4219.2亿元，其中规模以上企业产值2721.4亿元，分别是2003年（1002.8亿元、334.9亿元）:
    a value of a parenthesised list after 分别 stands for the value said in the same place
    before 分别 (the first for 总产值, the second for 规模以上企业产值): the one whose words before
    it the question holds most of."""
    opened = max(sentence.rfind("（", 0, m.start()), sentence.rfind("(", 0, m.start()))
    closes = [c for c in (sentence.find("）", m.end()), sentence.find(")", m.end())) if c >= 0]
    pair_at = sentence.rfind("分别", 0, opened) if opened >= 0 else -1
    if pair_at < 0 or not closes or re.search(r"[，。；,;]", sentence[pair_at:opened]):
        return m
    listed = [v for v in spans if opened < v.start() and v.end() <= min(closes)]
    unit = re.sub(r"[\d.,]", "", m.group())
    said = [v for v in spans if v.end() <= pair_at and re.sub(r"[\d.,]", "", v.group()) == unit]
    said = said[-len(listed) :]
    if len(listed) < 2 or len(said) != len(listed):
        return m
    question = fold(frame.question)
    words = {  # a word nearer the question word weighs more (其中规模以上企业的产值)
        w.lower(): (question.rfind(w) + 1) / len(question)
        for w in frame.left + frame.attribute + frame.about + frame.scopes
    }
    starts = [0] + [v.end() for v in said[:-1]]
    held = [
        sum(weight for w, weight in words.items() if w in sentence[a : v.start()])
        for a, v in zip(starts, said)
    ]
    return listed[held.index(max(held))]


def _counts_kind_of(sentence: str, m: re.Match, asked: list[str]) -> bool:
    """几家高新技术企业 of …26家企业: a count followed by the last noun of the asked phrase
    alone (企业, 2–3 characters) counts 企业 in general, not 高新技术企业 (…190个网络平台 names
    a kind of its own; 20多项企业 for 企业事项 leaves the phrase's last noun out)."""
    phrase = "".join(asked)
    after = sentence[m.end() :]
    return (
        bool(phrase)
        and not after.startswith(phrase)
        and any(after.startswith(phrase[-k:]) for k in (2, 3) if k < len(phrase))
    )


def _counts_other_noun(
    sentence: str, m: re.Match, frame: Frame, matcher: TermMatcher, side: str
) -> bool:
    """A value beside a noun the question does not ask of is a value of that noun: the noun its
    measure word joins (四个轮子, side "after") or the noun a count follows (企业422家 for a
    产值, side "before")."""
    if side == "before":
        if not lx.COUNT_END.match(m.group()):
            return False
        tagged = matcher.tokenizer.tagged(sentence[max(0, m.start() - 8) : m.start()])[-1:]
    else:
        after = sentence[m.end() : m.end() + 8]
        tagged = matcher.tokenizer.tagged(after)[:1] if re.match(r"[\u4e00-\u9fff]", after) else []
    if not tagged:
        return False
    word, flag = tagged[0]
    asked = frame.attribute + frame.counted
    return (
        flag.startswith("n") and len(word) >= 2 and not any(a in word or word in a for a in asked)
    )


def _changed_to(sentence: str, m: re.Match, spans: list[re.Match]) -> re.Match:
    """由原7个工作日缩减至1个工作日: a value the sentence says it changed from stands for the
    one it changed to (the next value, after 至/到/为)."""
    if not lx.CHANGED_FROM.search(sentence[max(0, m.start() - 3) : m.start()]):
        return m
    later = [v for v in spans if v.start() >= m.end()]
    if later and lx.CHANGED_TO.search(sentence[m.end() : later[0].start()]):
        return later[0]
    return m


def _with_range(sentence: str, m: re.Match, value: str) -> str:
    """The whole of a range the value ends or starts (15至20厘米, 100米至2,800米), and a unit
    in Latin letters after it (4.7 GHz, 1750.33km²)."""
    before = re.search(rf"(?:{lx.VALUE.pattern})\s*{_RANGE}\s*$", sentence[: m.start()])
    if before and re.search(r"\d|[一二两三四五六七八九十]", before.group()):
        return before.group() + m.group()
    after = re.match(rf"\s*{_RANGE}\s*(?:{lx.VALUE.pattern})", sentence[m.end() :])
    if after and re.search(r"\d", after.group()):
        return value + after.group()
    latin = re.match(r"\s?[A-Za-z]{1,4}[²³]?(?![A-Za-z])", sentence[m.end() :])
    return value + latin.group() if latin else value


def counted_value(frame: Frame, sentence: str) -> str:
    """几家企业 asks for the number of 企业: the value whose measure word the noun follows
    (…3家企业成功上市，…总数达10家 → 3家); "" when the question is not of that shape."""
    if not frame.unit or not frame.attribute:
        return ""
    noun = frame.attribute[0]
    own = frame.unit.endswith(noun)  # 几个工作日: the unit holds the noun
    asked = rf"(?:几|多少){re.escape(frame.unit)}{'' if own else re.escape(noun)}"
    if not re.search(asked, frame.question):
        return ""
    values = values_of(sentence, frame.unit)
    for m in values:
        if (own or sentence.startswith(noun, m.end())) and _not_question_number(m.group(), frame):
            if not lx.ASKS_BEFORE.search(frame.question):
                m = _changed_to(sentence, m, values)
            return _with_prefix(sentence, m, frame.question)
    return ""


def _with_prefix(sentence: str, m: re.Match, question: str) -> str:
    """The value with a qualifier just before it (超过/突破/约/近/逾)."""
    return _qualifier(sentence, m.start(), question) + m.group()


def _qualifier(sentence: str, at: int, question: str) -> str:
    """超过/突破/约/近/逾 just before ``at``, unless the ``question`` says it, else ""."""
    before = sentence[max(0, at - 2) : at]
    found = next((q for q in lx.VALUE_QUALIFIERS if before.endswith(q)), "")
    return "" if found in question else found


def nearest_year(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """The year nearest to where the question's words end (the plain rule the answerability
    features are read with)."""
    years = [m for m in lx.YEAR.finditer(sentence) if m.group(1) not in frame.years]
    if not years:
        return ""
    at = anchor(frame, sentence, matcher)
    return min(years, key=lambda m: abs(m.start() - at)).group(0)


def _runs(matches: list[re.Match], sentence: str) -> list[list[re.Match]]:
    """Matches that follow one another joined only by 、/和/及/与 (甲、乙和丙), as runs."""
    runs: list[list[re.Match]] = []
    for m in matches:
        if runs and re.fullmatch(r"[、和及与]", sentence[runs[-1][-1].end() : m.start()]):
            runs[-1].append(m)
        else:
            runs.append([m])
    return [r for r in runs if len(r) >= 2]


def _paired(
    asked: list[re.Match], other: list[re.Match], wanted: Callable[[str], bool], sentence: str
) -> re.Match | None:
    """Two lists side by side (2003年、2008年和2017年…突破1000亿元、2000亿元和4000亿元): the
    item of ``other`` in the place of the ``wanted`` item of ``asked``; None when the
    sentence holds no such pair of lists."""
    for run in _runs(asked, sentence):
        for k, m in enumerate(run):
            if wanted(m.group()):
                for paired in _runs(other, sentence):
                    if len(paired) == len(run):
                        return paired[k]
    return None


def _untimed(values: list[re.Match], times: list[re.Match]) -> list[re.Match]:
    """The values that are not themselves one of the times (2003年 is both)."""
    spans = {(t.start(), t.end()) for t in times}
    return [v for v in values if (v.start(), v.end()) not in spans]


def aligned_time(frame: Frame, sentence: str, times: list[re.Match]) -> re.Match | None:
    """…哪一年突破4000亿元 → the time in the place of 4000亿元 (``_paired``)."""
    if not frame.numbers:
        return None
    values = _untimed(values_of(sentence, ""), times)
    numbers = [re.compile(rf"{re.escape(n)}(?!\d)") for n in frame.numbers]
    return _paired(values, times, lambda v: any(n.match(v) for n in numbers), sentence)


def aligned_value(frame: Frame, sentence: str) -> str:
    """The other way round: asked about 2017, the value in its place; "" when the asked year
    is not in such a pair of lists."""
    if not frame.years:
        return ""
    times = list(_TIME.finditer(sentence))
    values = _untimed(values_of(sentence, frame.unit), times)
    found = _paired(times, values, lambda t: t.startswith(frame.years), sentence)
    if found is None:
        return ""
    # a qualifier before the list holds for each of its items (相继突破1000亿元、…4000亿元)
    run = next(r for r in _runs(values, sentence) if found in r)
    return (
        _qualifier(sentence, found.start(), frame.question)
        or _qualifier(sentence, run[0].start(), frame.question)
    ) + found.group()


def year_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """The time in the clause that holds most of the question's words (a time that leads
    the sentence, 1261年8月15日，…, belongs to all of it): the whole date for 何时, the year
    alone for 哪一年; none of the years the question itself names."""
    times = [
        m for m in _TIME.finditer(sentence) if not any(m.group().startswith(y) for y in frame.years)
    ]
    if not times:
        return ""
    words = frame.left + frame.right

    def held(clause: re.Match) -> int:
        return sum(len(w) for w in words if w in clause.group())

    clauses = list(re.finditer(r"[^，。；;,]+", sentence))
    best = max(clauses, key=held) if clauses else None
    inside = [m for m in times if best and best.start() <= m.start() < best.end()]
    before = [m for m in times if best and m.start() < best.start()]
    at = anchor(frame, sentence, matcher)
    chosen = (
        aligned_time(frame, sentence, times)
        or (min(inside, key=lambda m: abs(m.start() - at)) if inside else None)
        or (before[-1] if before else times[0])
    )
    text = chosen.group()
    if lx.ASKS_YEAR_ONLY.search(frame.question):
        text = re.sub(r"(?<=年)\d{1,2}月.*$", "", text)
    return text


def list_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """Every item of the enumeration (甲、乙和丙) nearest after the question's words; the
    last item ends where a verb starts (龙山镇、匡堰镇开展… → 龙山镇、匡堰镇), or, in a list
    of counts (甲3家、乙4家), at its own count."""
    items = [m for m in _ENUM.finditer(sentence)]
    if not items:
        return ""
    at = 0
    for term in frame.left:
        hit = _find(term, sentence)
        if hit:
            at = max(at, hit[1])
    after = [w for w in frame.right if w not in frame.attribute][:1]  # not the asked type
    bounded = _bounded_by(items, tuple(after))  # 以甲、乙为重点 for 以哪些板块为重点
    best = min(bounded or items, key=lambda m: (0 if m.end() > at else 1, abs(m.start() - at)))
    stop = bounded[best] if bounded else best.end()
    start = best.start()
    if start < at < stop:
        first = sentence[at:stop].split("、")[0]
        start = start if lx.COUNT_END.match(first) else at  # 国家级单项冠军|3家: keep the name
    text = sentence[start:stop].strip()
    if bounded:  # 桐庐以甲、乙为: the question's own words before the first item are not in it
        for term in frame.left:
            text = text.removeprefix(term.lower())
    text = _LEAD_VERBS.sub("", text)
    head, sep, last = text.rpartition("、")
    count = lx.COUNT.search(last)
    if _all_counts(head.split("、") if head else []) and count:
        return head + sep + last[: count.end()]
    if head and count and count.start() > 0 and _counts_items(count.group(), head.count("、") + 2):
        last = last[: count.start()]  # 甲、乙、丙3家企业成功上市: the count of the list is no item
    # the last item ends where a verb starts, or, where the question's later words end the
    # list (甲、乙等项目|建设), at its particle (等) or preposition (为)
    stops = ("u", "p") if bounded else ("v", "p", "d", "u", "m", "q")
    kept = ""
    for word, flag in matcher.tokenizer.tagged(last):
        if kept and flag[:1] in stops:
            break
        kept += word
    return _TRAIL.sub("", head + sep + kept)


def _counts_items(count: str, items: int) -> bool:
    """Does ``count`` (3家, 三个) number ``items``?"""
    number = re.match(r"\d+|[零一二两三四五六七八九十]", count)
    if number is None:
        return False
    text = number.group()
    return (int(text) if text.isdigit() else chinese_int(text)) == items


def _bounded_by(items: list[re.Match], words: tuple[str, ...]) -> dict[re.Match, int]:
    """The enumerations whose last item holds the question's word after its question word
    (甲、乙为重点 for 以哪些板块为重点), each with where that word starts."""
    out = {}
    for m in items:
        last = m.group().rfind("、") + 1
        for word in words:
            k = m.group().find(word.lower(), last)
            if k > last:
                out[m] = m.start() + k
    return out


def counts_not_names(frame: Frame, span: str) -> bool:
    """A list answer whose items are counts (国家级单项冠军3家、宁波市单项冠军4家) to a
    question asking which things (哪些企业获评…), not which kinds (哪几类): the sentence
    counts them and names none. The last item may be cut short (list_answer), so the
    others decide."""
    counted = [x for x in _JOINER.split(span) if x][:-1]
    return (
        frame.kind == "list"
        and not lx.ASKS_KINDS.search(frame.question)
        and len(counted) >= 2
        and _all_counts(counted)
    )


def _all_counts(items: list[str]) -> bool:
    """Do the list's items (at least one) each end in a count (甲3家)?"""
    return bool(items) and all(lx.COUNT_END.search(x) for x in items)


def name_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """For who/where questions: the first name (person, place, organisation) after the
    question's words that is not itself one of them, else the last one before them; with
    the parts a middle dot joins to it (威廉·琼斯)."""
    at = anchor(frame, sentence, matcher)
    asked = {strip_place_suffix(n) for n in frame.names + frame.about + frame.attribute}
    wanted = ("nr", "nrt", "nrfg") if frame.kind == "person" else ("ns", "nrt", "nt")
    tagged = matcher.tokenizer.tagged(sentence)
    pos, before = 0, ""
    for k, (word, flag) in enumerate(tagged):
        pos += len(word)
        if flag in wanted and strip_place_suffix(word) not in asked and len(word) >= 2:
            name = _dotted(tagged, k) if frame.kind == "person" else _place_run(tagged, k)
            if pos - len(word) >= at:
                return name
            before = name  # the nearest before the question's words, if none follows
    return before


def _leads_with_verb(span: str, matcher: TermMatcher) -> bool:
    tagged = matcher.tokenizer.tagged(span)
    return bool(tagged) and tagged[0][1].startswith("v") and tagged[0][1] != "vn"  # 战斗 is a noun


def _dotted(tagged: list[tuple[str, str]], k: int) -> str:
    """The name at ``k`` with the parts a middle dot joins to it (约翰·奥利弗, 玛西娅·麦克
    纳特: a transliteration jieba cuts into name pieces)."""
    start = k
    while start >= 2 and tagged[start - 1][0] in _NAME_DOTS:
        start -= 2
    end = k + 1
    while end + 1 < len(tagged) and tagged[end][0] in _NAME_DOTS:
        end += 2
        while end < len(tagged) and tagged[end][1] in ("nr", "nrt", "nrfg"):
            end += 1
    return "".join(w for w, _ in tagged[start:end])


_NAME_DOTS = frozenset("· ・ • ‧".split())


def _place_run(tagged: list[tuple[str, str]], k: int) -> str:
    """The place at ``k`` with the finer places and names that follow it (乌拉圭蒙得维的亚,
    台湾宜兰县头城镇)."""
    end = k + 1
    while end < len(tagged) and (
        tagged[end][1] in ("ns", "nt", "nr", "nrt", "nz", "j") or tagged[end][0] in ("-", "－")
    ):
        end += 1
    return "".join(w for w, _ in tagged[k:end]).rstrip("-－")


def typed_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """哪个朝代 / 哪一条河 / 什么症状 / 哪个小镇: the asked type is named after the question
    word, and the answer is a noun of that type, which shares a character with it (宋朝,
    淡水河, 重抑症) or ends in it (分水妙笔小镇), and is not a word of the question; with the
    nouns just before it (纳粹|集中营).
    "" when the question names no type or no such noun is there."""
    typed = frame.attribute[-1] if frame.attribute and frame.attribute[-1] in frame.right else ""
    named = (  # 建设哪个小镇: a name ending in the noun after the question word
        frame.right[0]
        if not typed
        and frame.right
        and len(frame.right[0]) >= 2
        and lx.ASKS_WHICH.search(frame.question)
        else ""
    )
    kind = typed or named
    if not kind:
        return ""
    question = frame.question
    # …乙项目获得国家技术发明二等奖: the one after where the question's last words stand
    at = anchor(replace(frame, attribute=()), sentence, matcher)
    found: list[tuple[int, str]] = []
    run: list[str] = []
    pos = 0
    tagged = matcher.tokenizer.tagged(sentence)
    nounish = [f[:1] in ("n", "t") or f in ("j", "eng") for _, f in tagged]  # 宋朝: a time
    for k, (word, flag) in enumerate(tagged):
        pos += len(word)
        # a verb between nouns is part of the name (国家|技术|发明|二等奖)
        inside = flag.startswith("v") and bool(run) and k + 1 < len(tagged) and nounish[k + 1]
        if not nounish[k] and not inside:
            run = []
            continue
        run.append(word)
        if inside:
            continue
        if named:
            if word == named and any(w not in question for w in run[:-1]):
                found.append((pos - len(word), "".join(run)))  # 分水|妙笔|小镇
        elif len(word) >= 2 and word not in question and set(word) & set(kind) and word != kind:
            phrase = "".join(w for w in run if w not in question or w == word)
            found.append((pos - len(word), phrase if phrase.endswith(word) else word))
    after = [text for start, text in found if start >= at]
    return (after or [text for _, text in found] or [""])[0]


def coordinated_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """甲、乙以及什么: the item of the sentence's list that stands beside the question's own
    items and is not one of them (丙、甲和乙 → 丙); "" when the question is not of that
    shape or the sentence lists no such item."""
    m = lx.COORDINATED_ASK.search(frame.question)
    if not m:
        return ""
    named = [x for x in _JOINER.split(frame.question[: m.start()]) if x]
    keys = [k for k in (_key_of(x, sentence) for x in named) if k]
    if not keys:
        return ""
    tagged = matcher.tokenizer.tagged(sentence)
    segments: list[list[tuple[str, str]]] = [[]]
    for k, (word, flag) in enumerate(tagged):
        if word in lx.LIST_JOINERS:
            segments.append([])
        elif word in _LIST_ENDS:
            if not (k + 1 < len(tagged) and tagged[k + 1][0] in lx.LIST_JOINERS):
                segments += [[], []]  # no list runs across it (…，以及 does)
        else:
            segments[-1].append((word, flag))
    own = [
        any(
            key in "".join(w for w, _ in seg) if len(key) > 1 else key in [w for w, _ in seg]
            for key in keys
        )
        for seg in segments
    ]
    before, after = [], []  # items left of the question's own ones, and the others
    for run in _runs_of(segments):
        mine = [i for i in run if own[i]]
        if not mine:
            continue  # a list the question names none of
        for i in run:
            if own[i]:
                continue
            if i < mine[0]:
                before.append("".join(_noun_run(segments[i][::-1])[::-1]))  # 丙、甲: its tail
            else:  # 甲、丙…: its head
                after.append("".join(_noun_run(segments[i])))
    items = list(dict.fromkeys(x for x in after + before if x))
    if frame.kind != "list":  # one asked (哪一个, 谁): the next one after, else the one before
        items = items[:1]
    return "、".join(items)


def _runs_of(segments: list[list[tuple[str, str]]]) -> list[list[int]]:
    """Indices of the segments that follow one another with no empty one between."""
    runs: list[list[int]] = [[]]
    for i, seg in enumerate(segments):
        if seg:
            runs[-1].append(i)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


_LIST_ENDS = frozenset("， , 。 ； ; ！ ？ ： : … ……".split())
_JOINER = re.compile("|".join(sorted(lx.LIST_JOINERS, key=len, reverse=True)))
_ITEM_PUNCTUATION = frozenset("， , 、 （ ） ( ) “ ” 「 」 《 》 … ……".split())


def _key_of(item: str, sentence: str) -> str:
    """The longest end (2–8 characters) of the question's ``item`` that the sentence holds
    (认为征兵制 → 征兵制); a one-character item is itself."""
    if len(item) == 1:
        return item
    return next((item[-n:] for n in range(min(len(item), 8), 1, -1) if item[-n:] in sentence), "")


def _noun_run(tokens: list[tuple[str, str]]) -> list[str]:
    """The first word, unless a function word, and the nouns that follow it in
    ``tokens`` (a segment's head; given reversed, its tail)."""
    run: list[str] = []
    for word, flag in tokens:
        if word in _ITEM_PUNCTUATION:
            if run:
                break
            continue
        if not run and (flag in _NOT_AN_ITEM or flag[:1] == "u"):
            break
        if run and not (flag[:1] in ("n", "j", "b") or flag in ("vn", "eng")):
            break
        run.append(word)
    return run


_NOT_AN_ITEM = frozenset("p c d r m q f y e o".split())  # no list item starts with these


def definition_answer(frame: Frame, sentence: str) -> str:
    """什么是X asks what the sentence says X is: the text after X（…）是/指, to the end of
    the sentence, or of its first clause when that is long."""
    hit = _find("".join(frame.right).lower(), sentence.lower())
    if hit is None:
        return ""
    rest = re.sub(r"^\s*[（(][^）)]*[）)]", "", sentence[hit[1] :]).lstrip("，,：: ")
    rest = _LEAD_VERBS.sub("", rest)
    span = re.split(r"[。；;！？]", rest)[0]
    if len(span) > MAX_SPAN:
        span = re.split(r"[，,]", span)[0]
    return _TRAIL.sub("", span)


def gap_answer(frame: Frame, sentence: str, matcher: TermMatcher) -> str:
    """The sentence text between the question's words left and right of its question word."""
    low = sentence.lower()
    start, anchored = 0, False
    for term in frame.left:
        hit = _find(term.lower(), low, 0)
        if hit:
            start, anchored = max(start, hit[1]), True
    skipped = True
    while skipped:  # 规模最大的|企业|甲公司: a question word standing after the others
        skipped = False
        for term in frame.left:
            at = start + 1 if low.startswith("的", start) else start
            if len(term) >= 2 and low.startswith(term.lower(), at):
                start, skipped = at + len(term), True
    end = len(sentence)
    together = phrase_starts(frame.right, low[start:]) if len(frame.right) > 1 else []
    if together and together[0] > 0:  # 四位一体联动模式, not the 联动 of 产业联动 before it
        end = start + together[0]
    else:
        for term in frame.right:
            hit = _find(term.lower(), low, start)
            if hit and hit[0] > start:
                end = min(end, hit[0])
                break
    if not anchored and end < len(sentence):
        # none of the words before the question word is said: the answer stands in the
        # clause of the words after it (…，获评省“美丽乡村”先进县 for 什么工作的先进县)
        start = _clause_start(low, end)
    kind = frame.right[0] if frame.right else ""
    if len(kind) == 1 and lx.PLACE_SUFFIX.search("··" + kind) and low.startswith(kind, end):
        end += 1  # 哪个镇…: 桥头镇, the asked kind of place is part of its name
    if end < len(sentence) and lx.MEANS_ASK.search(frame.question):
        # 按照什么标准建设: the means stands in the clause of the words after it (以“五有”标准)
        start = max(start, max(low.rfind(mark, start, end) for mark in "，,；;。") + 1)
    span = sentence[start:end]
    if end == len(sentence) or len(span) > MAX_SPAN:
        span = re.split(r"[，。；！？,;]", span.lstrip("，,"))[0]
    span = re.sub(r"^[（(][^）)]*[）)]", "", span.strip())
    span = _TRAIL.sub("", _LEAD_VERBS.sub("", _LEAD_REST.sub("", span)))
    return span[:MAX_SPAN] if span else ""


def short_answer(
    frame: Frame, sentence: str, matcher: TermMatcher, subject: str = "", plain: bool = False
) -> str:
    """The direct answer inside ``sentence`` ("" when none can be told apart), quoted from
    the original text (matching runs on the folded, same-length text). ``plain=True`` leaves
    out the rules that find an answer-like span in near misses as readily as in answers —
    a noun of the asked type (``typed_answer``), any time of the best clause
    (``year_answer``) — so the answerability features are read on the plain rules."""
    folded = fold(sentence)
    if frame.kind == "reason":
        return ""  # why/how: the quoted sentence is the answer, no fragment of it
    coordinated = (
        ""
        if plain or frame.kind in ("number", "year")
        else coordinated_answer(frame, folded, matcher)
    )
    if coordinated:
        span = coordinated
    elif frame.kind == "number":
        span = number_answer(frame, folded, matcher, subject)
    elif frame.kind == "year":
        span = (nearest_year if plain else year_answer)(frame, folded, matcher)
    elif frame.kind == "list":
        span = list_answer(frame, folded, matcher) or gap_answer(frame, folded, matcher)
    elif frame.kind in ("person", "place"):
        name, gap = name_answer(frame, folded, matcher), gap_answer(frame, folded, matcher)
        whole = (
            frame.kind == "place"
            and name in gap
            and len(gap) <= MAX_PLACE_PHRASE
            and not _LIST_BREAK.search(gap)
        )
        span = gap if whole or not name else name  # 落户环杭州湾智能产业园: the whole place
        if not name and frame.kind == "person" and _leads_with_verb(gap, matcher):
            span = ""  # …负责人称赞道: no name follows, and 称赞道 is none
    elif not plain and lx.DEFINITION_ASK.match(frame.question) and not frame.left:
        span = definition_answer(frame, folded)
    else:
        span = (not plain and typed_answer(frame, folded, matcher)) or gap_answer(
            frame, folded, matcher
        )
    span = span.split("\t")[0].strip()  # a contents line's page
    if not re.search(r"[\w\u3400-\u9fff]", span):
        return ""  # a closing quote mark alone (”) is no answer
    return _original(sentence, folded, span)


def _original(sentence: str, folded: str, span: str) -> str:
    """``span`` of the ``folded`` sentence as the original writes it; items joined by 、
    that stand apart in it (a coordinated answer) one by one."""
    if not span:
        return ""
    at = folded.find(span)
    if at >= 0:
        return sentence[at : at + len(span)]
    items = span.split("、")
    spots = [folded.find(x) for x in items]
    if len(items) > 1 and all(x >= 0 for x in spots):
        return "、".join(sentence[x : x + len(i)] for x, i in zip(spots, items))
    return span
