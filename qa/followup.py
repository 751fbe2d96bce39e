"""Rewrite a follow-up question with the conversation before it (rules, no language model).

A follow-up is a short question that leans on the previous one: "那2003年呢？",
"省级呢？", "其中有几家上市了？". It is rewritten into a self-contained question:

- a *typed* span of the follow-up replaces the span of the same type in the previous
  question: a year replaces a year ("2017年…是多少？" + "那2003年呢？" → "2003年…是多少？"),
  a level replaces a level (国家级 → 省级, or a place's own: 宁波市级), a number with a
  unit replaces a number with the same unit (前10名 → 前20名); a year is put in front of a
  previous question that has none;
- "那一年"/"同年"/"当年" is the previous question's year, in a question of any length;
- "其中X呢？" asks the previous question's count of X, a part of what it counted;
- anything else is appended to the previous question ("…企业有几家，宁波呢？"), so retrieval
  sees both the earlier subject and the new one.

A question that names what it asks about ("慈溪有几家企业呢？") is left alone, and so is
every question longer than ``MAX_FOLLOWUP_CHARS``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_FOLLOWUP_CHARS = 16  # a longer question is taken as self-contained
MAX_QUERY_CHARS = 500  # a rewrite longer than this is dropped (the question is kept)

_END_PUNCT = "？?。.！!～~ \t\r\n"
# "那"/"那么"/"还有"… opening a follow-up (not "那些"/"那个", which are pronouns).
_LEAD = re.compile(r"^(?:那么|那(?![些个里])|还有|另外|然后|再问一下|再问|如果是|换成)[，,\s]*")
_TAIL = re.compile(r"(?:的情况|情况)?(?:又?怎么样|又?如何|呢|的呢)$")
_PRONOUN = re.compile(
    r"它们|它|他们|她们|其中|(?<!应)该|这些|那些|这个|那个|这里|那里|当地|(?<![因如彼])此"
)
_QUESTION_WORD = re.compile(
    r"多少|几|什么|啥|哪|谁|怎么|怎样|如何|为什么|为何|是否|吗|是不是|有没有|何时|多[大高长久]"
)
# Words that carry no content once the typed spans are taken out of a follow-up.
_FILLER = re.compile(r"[的是呢了吗有又，,、\s]|多少|几[个家项件年次名]?|怎么样|如何|情况")

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)年?")
# "那一年"/"同年": the year the previous question asks about, however long the question is
_YEAR_PRONOUN = re.compile(r"(?:那|这)一?年|同年|当年")
# a level, and a place's own level opening a follow-up (宁波市级的呢: 宁波's, not any 市级)
_LEVEL = re.compile(r"(?:^[\u4e00-\u9fff]{2,3}(?=[市县区]级))?(?:国家|省|市|县|区|镇|乡|村)级")
# "…又有多少家": a short question going on from the previous one
_AGAIN = re.compile(r"又(?=有|是|为|占|达|排)")
_NUMBER = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?|[一二三四五六七八九十两]+)"
    r"\s*(%|％|[个家项件人名位批届次倍元万亿岁天月号强季度]+)"
)


def _clean(question: str) -> str:
    return question.strip().strip(_END_PUNCT)


def _focus(core: str) -> str:
    """What the follow-up is about: the question without its opening and closing words."""
    focus = _LEAD.sub("", core)
    focus = _TAIL.sub("", focus)
    return focus.strip("，, 的")


def is_followup(question: str) -> bool:
    """A short question that opens with 那/那么/还有, ends with 呢/怎么样, or uses a pronoun,
    and does not itself name what it asks about (a question word without a pronoun)."""
    core = _clean(question)
    if not core or len(core) > MAX_FOLLOWUP_CHARS:
        return False
    lead, tail, pronoun = _LEAD.match(core), _TAIL.search(core), _PRONOUN.search(core)
    lead = lead or _AGAIN.search(core)
    if not (lead or tail or pronoun):
        return False
    if not pronoun and not lead and _QUESTION_WORD.search(core):
        return False  # "慈溪有几家企业呢？" asks its own question
    return bool(_focus(core)) or bool(pronoun)


def _replace_year(focus: str, previous: str) -> tuple[str, str] | None:
    """(previous with the follow-up's year, focus without it), or None."""
    m = _YEAR.search(focus)
    if not m:
        return None
    years = list(_YEAR.finditer(previous))
    if len(years) == 1:
        y = years[0]
        previous = previous[: y.start(1)] + m.group(1) + previous[y.end(1) :]
    elif not years and not _FILLER.sub("", focus[: m.start()] + focus[m.end() :]):
        previous = f"{m.group(1)}年{previous}"  # a bare year: ask the same about that year
    else:
        return None
    return previous, focus[: m.start()] + focus[m.end() :]


def _replace_same(pattern: re.Pattern, unit_group: int | None = None):
    """A replacer for spans of one type: the follow-up's span replaces the previous
    question's only span of that type (and, for numbers, the same unit)."""

    def replace(focus: str, previous: str) -> tuple[str, str] | None:
        m = pattern.search(focus)
        if not m:
            return None
        spans = [
            s
            for s in pattern.finditer(previous)
            if unit_group is None or s.group(unit_group) == m.group(unit_group)
        ]
        if len(spans) != 1 or spans[0].group(0) == m.group(0):
            return None
        s = spans[0]
        return previous[: s.start()] + m.group(0) + previous[s.end() :], (
            focus[: m.start()] + focus[m.end() :]
        )

    return replace


_SUBSET = re.compile(r"^其中的?")
_COUNT_ASK = re.compile(r"(?:多少|几)[个家项件人名位批所座条种]?")


def _subset(core: str, previous: str) -> str | None:
    """ "其中X呢？" after a question that counts or measures Y asks the same of X, a part of Y:
    "慈溪现有科技型企业多少家？" → "慈溪现有科技型企业，其中X多少家？"; a follow-up with its own
    question word keeps it ("其中X有几家？" → "慈溪现有科技型企业，其中X有几家？"). None when the
    follow-up does not open with 其中 or the previous question asks no count or amount."""
    if not _SUBSET.match(core):
        return None
    part = _TAIL.sub("", _SUBSET.sub("", core)).strip("，, 的")
    asks = list(_COUNT_ASK.finditer(previous))
    if not part or not asks:
        return None
    ask = asks[-1]
    before, after = previous[: ask.start()], previous[ask.end() :]
    verb = re.search(r"(?:是|为|有|达到|达|约)$", before)  # 总产值是多少 → 其中X是多少
    head = (before[: verb.start()] if verb and not after else before) + after
    if _QUESTION_WORD.search(part):
        return f"{head.removesuffix('的')}，其中{part}"
    asked = (verb.group() if verb and not after else "") + ask.group()
    return f"{head.removesuffix('的')}，其中{part}{asked}"


_REPLACERS = (_replace_year, _replace_same(_LEVEL), _replace_same(_NUMBER, unit_group=2))


def needs_context(question: str) -> bool:
    """A follow-up that says nothing but a year, a level or a number ("那2003年呢？",
    "省级呢？"): without the conversation before it, what it asks cannot be known."""
    if not is_followup(question):
        return False
    rest = _focus(_clean(question))
    for pattern in (_YEAR, _LEVEL, _NUMBER):
        rest = pattern.sub("", rest)
    return not _FILLER.sub("", _PRONOUN.sub("", rest))


def rewrite_one(question: str, previous: str | None) -> str:
    """``question`` made self-contained with the (already self-contained) ``previous``
    question, or ``question`` unchanged when it is not a follow-up."""
    if not previous:
        return question
    pronoun = _YEAR_PRONOUN.search(question)
    years = set(_YEAR.findall(previous)) if pronoun else set()
    if pronoun and len(years) == 1:  # 那一年里规上企业的产值 after 2003年…
        return question[: pronoun.start()] + f"{years.pop()}年" + question[pronoun.end() :]
    if not is_followup(question):
        return question
    core = _clean(question)
    focus = _focus(core)
    body = _clean(previous)
    part = _subset(core, body)
    if part is not None:
        return f"{part}？" if len(part) < MAX_QUERY_CHARS else question
    changed = False
    for replace in _REPLACERS:
        done = replace(focus, body)
        if done:
            body, focus = done
            changed = True
    leftover = _FILLER.sub("", focus)
    if changed and leftover in body and not _PRONOUN.search(core):
        rewritten = f"{body}？"
    else:
        rewritten = f"{body}，{_LEAD.sub('', core)}？"
    return rewritten if len(rewritten) <= MAX_QUERY_CHARS else question


def rewrite_followup(question: str, previous: Sequence[str] = ()) -> str:
    """The question to search for ``question`` after the user's earlier ``previous``
    questions (oldest first): follow-ups are resolved in turn, so "那2003年呢？" then
    "那2010年呢？" both refer back to the first full question."""
    context: str | None = None
    for earlier in previous:
        if earlier and earlier.strip():
            context = rewrite_one(earlier.strip(), context)
    return rewrite_one(question.strip(), context)
