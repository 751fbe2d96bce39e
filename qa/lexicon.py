"""Closed-class words of Chinese questions and reports, in one place.

Only the language's own small word classes live here — question words, measure words,
qualifier levels, self-references, relative years. Content vocabulary (places, organisations,
domain terms) always comes from the corpus (``qa.vocabulary``), never from a list.
"""

from __future__ import annotations

import re

# What a question asks, by kind (checked in this order).
ASKS_LIST = re.compile(
    r"哪些|哪[\d几两二三四五六七八九十]+[个家项种类所座条位首部处]?|包括什么|包含什么|有哪"
)
# why / how: the answer is a clause, no value to pull out of the sentence
ASKS_REASON = re.compile(r"为什么|为何|怎么|如何|怎样")
ASKS_YEAR = re.compile(r"[公西]元[几哪]一?年|哪[一]?年|何年|什么时候|何时|哪个年份|什么年份|哪年")
ASKS_NUMBER = re.compile(r"多少|第几|几[^乎何]|几$|多[大高长重远久宽深]|比例|百分之几|排名")
# …负责人叫什么名字: a word ending in an agent suffix (人, 者, 长, 员, 师) asks a person's name
ASKS_PERSON = re.compile(
    r"谁|什么人|哪[一]?位|哪[一个]?个?人|[人者长员师]的?(?:(?:名字|姓名)(?:叫|是)?|叫)(?:什么|啥)"
)
# 哪个小镇 / 哪家企业: one thing of a kind is asked, so a name must answer it (not a sentence)
ASKS_WHICH = re.compile(r"哪[一]?[个家座项种所条部款只]")
ASKS_PLACE = re.compile(
    r"哪里|哪儿|什么地方|何处|何地|哪[一个]{0,2}(?:县市|地区|地方|城市|国家|边|"
    r"[省市县区镇乡村国州洲](?![场长民委政级]))"
)
# 甲、乙以及什么: the question names items of a list and asks the one it leaves out
COORDINATED_ASK = re.compile(r"(?:、|以及|和|与|及|跟)(?=什么|哪[一]?[种个位条项类些方本场门]|谁)")
MEANS_ASK = re.compile(r"(?:以|用|按|按照|依照|依据|根据|通过|凭借)(?:什么|何|哪)")  # 按照什么标准
DEFINITION_ASK = re.compile(r"^(?:什么|啥)(?:是|叫做?|称为)")  # 什么是X: X's definition is asked
LIST_JOINERS = frozenset("、 以及 和 与 及 跟 或".split())  # as whole tokens, between items
ASKS_WHAT = re.compile(r"什么|啥|哪[个家种项条所座]?|何")
QUESTION_WORD = re.compile(
    r"多少|第几|几(?![乎何])[个家项件年次岁天人所座条倍种名位批届辆台处]?|谁|什么|啥|哪[些里个家年一种位儿所座项条]*|"
    r"何[时地处年种]?|怎么样?|怎样|如何|为什么|为何|是否|是不是|有没有|多[大高长重远久宽深]"
)
# A question word jieba glued to the noun after it (哪些地方, 多少钱): split off; 什么样 stays
QUESTION_WORD_PREFIX = re.compile(
    r"^(?:哪些|哪个|哪种|哪里|什么(?!样)|多少|多长(?=时间))(?=[\u4e00-\u9fff])"
)
# …and one glued to the word before it (指标中多大 tagged a place): split off
QUESTION_WORD_SUFFIX = re.compile(r"(?<=[\u4e00-\u9fff])(?:多大|多少|多高|多长|多久)$")
# Measure words and units that follow a number (a number's "unit").
MEASURE = (
    "个百分点|百分点|个工作日|工作日|个月|个小时|个|家|项|件|人|名|位|所|座|处|条|倍|种|批|届|次|辆|台|套|户|亩|吨|年|月|天|岁|元|"
    "公里|千米|米|平方公里|平方米|公顷|千克|公斤|克|小时|分钟|秒|美元|欧元|度|层|部|本|篇|张|只|头|"
    "厘米|毫米|公尺|英尺|英里|海里|世纪|港元|日元|英镑"
)
# A count of things (3家, 两家, 27个): a list item ending so counts its kind and names none
COUNT = re.compile(
    r"(?:\d+|[一二两三四五六七八九十百千]+)(?:多|余)?[万千百]*"
    r"(?:家|个|所|名|位|项|种|批|座|处|条|件|户|人|只|台|辆)"
)
COUNT_END = re.compile(COUNT.pattern + "$")
# A list question asking kinds (哪几类, 哪些方面): a count of each kind answers it
ASKS_KINDS = re.compile(r"哪[些几两三四五六七八九十]*(?:类|种|方面|领域|层次|级别|类型)|什么类型")
# A value in 百分点 is a difference of rates: it answers only a question about a rate or a gap.
ASKS_RATE = re.compile(r"百分点|增幅|增速|涨幅|降幅|比重|占比|率|差距|高出|低于|高于|多出|少了")
# Words that ask a share (多大比例, 占比多少): a percentage or a fraction says one without them
SHARE_WORDS = frozenset("比例 比重 占比 份额".split())
SHARE = re.compile(r"\d(?:\.\d+)?\s*[%％]|百分之|分之[一二两三四五六七八九十\d]")
UNIT_QUESTION = re.compile(rf"(?:多少|几)[十百千万亿]*({MEASURE})")  # 多少亿元: 元
# A number with its magnitude and unit: 512.6亿元, 3.2万家, 20多项, 8.5万元/人, 6.1%; or a
# fraction: 三分之一, 1/3.
VALUE = re.compile(
    r"[一二两三四五六七八九十百千\d]+分之[一二两三四五六七八九十百千\d]+|\d+/\d+(?![\d/])|"
    rf"(?:\d+(?:[.,]\d+)*|[一二两三四五六七八九十百千]+)(?:多|余)?[万亿千百]*(?:余)?"
    rf"(?:%|％|‰|(?:{MEASURE})(?:/(?:{MEASURE}))?)?"
)
# 由原7个…缩减至1个: the value changed from, and the words before the value it changed to
CHANGED_FROM = re.compile(r"(?:由|从)原?(?:来的)?$")
CHANGED_TO = re.compile(r"^[^，。；,;]{0,12}?(?:至|到|为)$")
ASKS_BEFORE = re.compile(r"原来|原先|之前|以前|改革前|调整前")  # asks the value changed from
VALUE_QUALIFIERS = ("超过", "突破", "超", "约", "近", "逾")  # before a value, part of it
RANK = re.compile(  # 第5位, and a place said with the verb alone (排61位)
    r"(?:第[\d一二三四五六七八九十]+(?:位|名)?|(?<=[排居列])[\d一二三四五六七八九十]+(?:位|名))"
    r"(?:前后|左右)?"
)
YEAR = re.compile(r"(?<!\d)((?:1[89]|20)\d\d)(?:年|(?=[-—－至到]))")
# A time an answer can be: a date (1944年2月25日), a decade (1990年代), a year of any age
# (476年, 公元前221年), a century (19世纪晚期), an era's year (康熙七年, 天正16年（1588年）).
TIME_SPAN = re.compile(
    r"(?:公元前|西元前|公元|西元)?\d{3,4}年代?(?:\d{1,2}月(?:\d{1,2}日)?)?"
    r"|\d{1,2}世纪(?:[初中末]叶?|[早中晚前后]期)?"
    r"|(?<![最过近今未此之以随每这那])[\u4e00-\u9fff]{2}(?:[元一二三四五六七八九十]{1,4}|\d{1,2})年"
    r"(?:[（(]\d{3,4}年[）)])?"
)
# a year said any way (1988年, 二〇〇三年, 黄初二年), not a span (40年, 三年来)
ANY_YEAR = re.compile(
    r"(?<!\d)(?:1\d|20)\d\d年|[〇零一二三四五六七八九]{4}年"
    r"|(?<=[\u4e00-\u9fff])(?<![近续每多前后这那几数第])[元一二三四五六七八九十]+年(?![来间代内里])"
    r"|今年|去年|前年|明年"
)
ASKS_YEAR_ONLY = re.compile(r"[哪何]一?年|几年|年份")  # …a year, not the day (何时 asks the date)
YEAR_IN_QUESTION = re.compile(r"(?<!\d)((?:1[89]|20)\d\d)(?!\d)")
NUMBER_IN_QUESTION = re.compile(r"\d+(?:\.\d+)?")
RELATIVE_YEARS = {"今年": 0, "去年": -1, "前年": -2, "明年": 1}
# a relative year that names the time spoken of (not 比去年 / 较去年同期, a comparison's base)
RELATIVE_YEAR = re.compile(r"(?<![比较于])(今年|去年|前年|明年)")
# Qualifiers that change what is counted: the evidence must say them too.
LEVEL = re.compile(r"(?:国家|省|市|县|区|镇|乡|村|国际|世界|部|5A|4A|3A)一?级")  # 市一级 is 市级
SCOPE = ("规上", "规模以上", "规下", "累计", "新增", "净增", "人均", "亩均", "年均", "首批", "唯一")
SCOPE_SAME = {  # what says a scope too: 22.6万元/人 is a figure per person
    "规上": ("规上", "规模以上"),
    "规模以上": ("规上", "规模以上"),
    "人均": ("人均", "/人"),
    "亩均": ("亩均", "/亩"),
}
# A document's way of naming its own subject ("我市" in a report about a city).
SELF_REFERENCE = re.compile(r"[我本全该][市县区镇乡村省州]")
# The province a document's place lies in, said without its name: 全省, 省级, 省“…”先进单位
PROVINCE_REFERENCE = re.compile(
    r'[我本全该]省|(?<![\u4e00-\u9fff])省|省(?=级|委|政府|内|首|属|重点|[“"《])'
)
PROVINCE_FIGURE = re.compile(r"[我本全该]省[（(]")  # 全省（6.8%）: the province's own figure
# a province named as such (浙江省), the candidates of a document's region
PROVINCE_NAMED = re.compile(r"[\u4e00-\u9fff]{2,3}省")
# a bracketed part inside a name, as in 清控科创(宁波)创新基地: the place there names where the
# organisation sits, not what the sentence speaks of (甲县（31.5万元）、… is not inside a name)
NAME_INFIX = re.compile(
    r"(?<=[\u4e00-\u9fff\w])[（(][^（）()，。；、]{1,8}[）)](?=[\u4e00-\u9fff\w])"
)
PLACE_SUFFIX = re.compile(r"(?<=..)(?:省|市|县|区|镇|乡|村|州)$")
# one character and a place suffix is a word, not a place (上市, 闹市), whatever its tag
SUFFIX_WORD = re.compile(r".(?:省|市|县|区|镇|乡|村)")  # not 州: 杭州, 温州 are places
# jieba part-of-speech flags of names: places, people, organisations, other proper nouns.
NAME_FLAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz", "eng"})
PLACE_FLAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt"})
NOUN_FLAGS = NAME_FLAGS | {"n", "nz", "vn", "an", "j"}
# Words between the asked attribute and the question word ("…总产值 是 多少").
RESULT_COMPLEMENT = "得到"  # 获得/达到: the verb alone (获, 达) says the same
LINK_WORDS = frozenset(
    "是 有 为 的 了 达到 达 共 共有 总共 一共 约 大约 在 排 位居 居 叫 叫做 称为 "
    "超过 超 逾 突破 至少 最多 占 占有 需要 需 要 花 花费 百分之".split()
)  # …and the bound or share said before a number (至少超过|多少, 占|百分之|多少)
# Verbs that say a total, a getting or a place in a ranking, not a change (增长, 减少 are
# asked values of their own): 总产值合计达到多少 asks the 总产值
TOTAL_WORDS = frozenset(
    "合计 共计 总计 累计 加在一起 加起来 一起 拿到 获得 取得 得到 拥有 位列 名列 排在 列".split()
)
# Verbs that place in a ranking (排在第几, 位列第几): a rank question asks the 第N, whatever
# verb the evidence places it with (跻身…第5位)
RANK_VERBS = frozenset("排 排在 排名 排位 位列 名列 位居 居 列 处在 处于 跻身".split())
# A link character right before the question word (…的人为谁, 经营方是谁, 会因什么): the
# question is tagged apart there, or jieba joins it to the noun (人为, 方是, 会因).
LINK_BEFORE_QUESTION = re.compile(
    r"(?:是|为|因|由)(?=(?:由|在|于|从|被)?(?:谁|什么|哪|何|多少|几))"
)
# Nouns that stand for the answer or its time, saying nothing of their own (什么东西,
# 什么时候, 多少时间, 西元几年): no evidence has to hold them.
PLACEHOLDER_WORDS = frozenset(
    "东西 事情 时候 时间 地方 样子 西元 公元 名字 姓名 名称 数量 数目".split()
)
# Words for "now" (慈溪上市企业现在有多少家): the time of the text itself, asked of no evidence.
NOW_WORDS = frozenset("现在 目前 当前 如今 眼下 现今 至今 迄今".split())
# Words of phase and manner before a verb (开始担任, 首次举办): the event is the verb after them.
PHASE_WORDS = frozenset("开始 首次 第一次 最早 最初 正式 才 已经 曾经 就 又 再".split())
