"""Follow-up questions rewritten with the conversation before them."""

import pytest

from qa.followup import MAX_FOLLOWUP_CHARS, is_followup, rewrite_followup, rewrite_one

Q2017 = "2017年慈溪全市工业总产值是多少？"
CHAMPIONS = "慈溪有几家国家级单项冠军企业？"


@pytest.mark.parametrize(
    "followup, expected",
    [
        ("那2003年呢？", "2003年慈溪全市工业总产值是多少？"),
        ("2003年呢", "2003年慈溪全市工业总产值是多少？"),
        ("那么2010年的情况呢？", "2010年慈溪全市工业总产值是多少？"),
        ("那2003年是多少？", "2003年慈溪全市工业总产值是多少？"),
        ("2003年的呢?", "2003年慈溪全市工业总产值是多少？"),
        ("那2003年怎么样？", "2003年慈溪全市工业总产值是多少？"),
    ],
)
def test_year_replaces_year(followup, expected):
    assert rewrite_followup(followup, [Q2017]) == expected


def test_year_is_put_before_a_question_without_one():
    assert rewrite_followup("那2018年呢？", [CHAMPIONS]) == "2018年慈溪有几家国家级单项冠军企业？"


def test_level_replaces_level():
    assert rewrite_followup("那省级呢？", [CHAMPIONS]) == "慈溪有几家省级单项冠军企业？"


def test_number_with_the_same_unit_is_replaced():
    top = rewrite_followup("那前20名呢？", ["营收前10名的企业有哪些？"])
    assert top == "营收前20名的企业有哪些？"
    quarter = rewrite_followup("那第二季度呢？", ["第一季度出口额是多少？"])
    assert quarter == "第二季度出口额是多少？"


def test_a_part_of_what_was_counted_gets_the_same_question():
    """其中X呢: the count (or amount) the previous question asked, now of X, a part of it."""
    assert rewrite_followup("其中高新技术企业呢？", ["慈溪现有科技型企业多少家？"]) == (
        "慈溪现有科技型企业，其中高新技术企业多少家？"
    )
    assert rewrite_followup("其中高新技术企业呢", ["慈溪有多少家科技型企业？"]) == (
        "慈溪有科技型企业，其中高新技术企业多少家？"
    )
    assert rewrite_followup("其中规上工业呢？", [Q2017]) == (
        "2017年慈溪全市工业总产值，其中规上工业是多少？"
    )
    assert rewrite_followup("其中有几家上市了？", ["慈溪有多少家企业？"]) == (
        "慈溪有企业，其中有几家上市了？"
    )
    assert rewrite_followup("其中哪个最大？", ["慈溪有哪些产业？"]) == (
        "慈溪有哪些产业，其中哪个最大？"
    )  # no count asked before: appended as any other follow-up


def test_other_follow_ups_are_appended_to_the_previous_question():
    assert rewrite_followup("那宁波呢？", [CHAMPIONS]) == "慈溪有几家国家级单项冠军企业，宁波呢？"
    assert rewrite_followup("它的增长率是多少？", [Q2017]) == (
        "2017年慈溪全市工业总产值是多少，它的增长率是多少？"
    )


def test_a_follow_up_with_more_than_a_year_keeps_its_words():
    got = rewrite_followup("那2003年的规上企业产值呢？", [Q2017])
    assert got.startswith("2003年慈溪全市工业总产值是多少，")
    assert "规上企业产值" in got


def test_chained_follow_ups_refer_back_to_the_first_full_question():
    history = [Q2017, "那2003年呢？"]
    assert rewrite_followup("那2010年呢？", history) == "2010年慈溪全市工业总产值是多少？"
    history = [CHAMPIONS, "那省级呢？"]
    assert rewrite_followup("那2018年呢？", history) == "2018年慈溪有几家省级单项冠军企业？"


def test_the_latest_full_question_is_the_context():
    history = [Q2017, CHAMPIONS]
    assert rewrite_followup("那省级呢？", history) == "慈溪有几家省级单项冠军企业？"


@pytest.mark.parametrize(
    "question",
    [
        CHAMPIONS,
        "2003年慈溪全市工业总产值是多少？",
        "慈溪有几家企业呢？",  # ends with 呢 but asks its own question
        "慈溪上市企业总数是多少",
        "应该怎么办",  # 该 inside 应该 is not a pronoun
        "还有呢？",  # nothing to substitute
        "那呢？",
        "",
        "   ",
    ],
)
def test_self_contained_or_empty_questions_are_left_alone(question):
    assert rewrite_followup(question, [Q2017]) == question.strip()


def test_without_history_nothing_changes():
    assert rewrite_followup("那2003年呢？") == "那2003年呢？"
    assert rewrite_followup("那2003年呢？", ["", "  "]) == "那2003年呢？"
    assert rewrite_one("那2003年呢？", None) == "那2003年呢？"


def test_long_questions_are_never_follow_ups():
    long = "那" + "慈" * MAX_FOLLOWUP_CHARS + "呢？"
    assert not is_followup(long)
    assert rewrite_followup(long, [Q2017]) == long


def test_is_followup():
    assert is_followup("那2003年呢？")
    assert is_followup("宁波呢")
    assert is_followup("其中有几家上市了？")
    assert is_followup("那些企业在哪里？")
    assert not is_followup(CHAMPIONS)
    assert not is_followup("慈溪有几家企业呢？")
    assert not is_followup("")


def test_a_rewrite_that_would_be_too_long_keeps_the_question():
    previous = "慈溪" * 249 + "？"  # 499 characters: appending would pass the 500 limit
    assert rewrite_followup("那宁波呢？", [previous]) == "那宁波呢？"


def test_a_previous_question_with_two_years_is_not_guessed_at():
    previous = "2003年到2017年工业总产值增长了多少？"
    got = rewrite_followup("那2010年呢？", [previous])
    assert got == "2003年到2017年工业总产值增长了多少，2010年呢？"


def test_a_followup_that_says_only_a_year_or_level_needs_the_conversation():
    from qa.followup import needs_context

    assert needs_context("那2003年呢？") and needs_context("省级呢？")
    assert needs_context("那它呢？")
    assert not needs_context("那慈溪的工业总产值呢？")  # it says what it asks
    assert not needs_context("2019年桐庐县工业总产值是多少？")


def test_that_year_is_the_previous_questions_year_in_a_question_of_any_length():
    history = [Q2017, "那2003年呢？"]
    asked = "那一年里规模以上企业贡献的工业总产值是多少？"
    assert len(asked) > MAX_FOLLOWUP_CHARS
    assert rewrite_followup(asked, history) == "2003年里规模以上企业贡献的工业总产值是多少？"
    assert rewrite_followup("同年上市企业有几家？", [Q2017]) == "2017年上市企业有几家？"
    two = ["2003年和2017年的工业总产值各是多少？"]
    unsure = rewrite_followup("那一年的上市企业有几家？", two)  # which year: not guessed
    assert "2003年的上市" not in unsure and "2017年的上市" not in unsure


def test_a_places_own_level_and_again_make_a_follow_up():
    history = ["慈溪的工程技术中心里，国家级的有几家？", "省级的呢？"]
    rewritten = rewrite_followup("宁波市级的又有多少家？", history)
    assert rewritten == "慈溪的工程技术中心里，宁波市级的有几家？"
    assert is_followup("宁波市级的又有多少家？") and not is_followup("宁波市级企业有多少家？")
