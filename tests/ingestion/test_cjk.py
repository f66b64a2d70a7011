"""Chinese text: OCR spacing repaired, sizes weighed, cuts at sentence ends or word boundaries."""

from __future__ import annotations

import jieba
import pytest

from ingestion.chunking import chunk_elements, is_possible_title
from ingestion.cjk import join_cjk_spaces, weighted_length
from ingestion.parsing import Element

pytestmark = pytest.mark.unit


def para(text: str, **meta: object) -> Element:
    return Element(text, "Text", dict(meta))


@pytest.mark.parametrize(
    ("ocr", "clean"),
    [
        ("退 货 政 策", "退货政策"),
        ("退货政策 : 商品在签收后 三 十 天 内", "退货政策：商品在签收后三十天内"),
        ("请保留原始包装 , 以便处理", "请保留原始包装，以便处理"),
        ("使用 Python 3 编程", "使用 Python 3 编程"),  # spaces beside Latin text stay
        ("plain English, untouched : yes", "plain English, untouched : yes"),
    ],
)
def test_ocr_spacing_between_cjk_characters_is_removed(ocr: str, clean: str) -> None:
    assert join_cjk_spaces(ocr) == clean


def test_a_cjk_character_weighs_more_than_a_latin_one() -> None:
    length = weighted_length(3)
    assert length("abc") == 3
    assert length("知识库") == 9
    assert length("BGE 模型") == 4 + 6
    assert weighted_length(1) is len


def test_chinese_chunks_hold_a_third_of_the_characters_with_weight_three() -> None:
    text = "".join(f"第{i}条规定说明了退货政策的一部分内容。" for i in range(60))

    chunks = chunk_elements([para(text)], chunk_size=150, chunk_overlap=0, cjk_weight=3)

    assert all(len(c.text) <= 50 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks), "a chunk was cut inside a sentence"
    assert "".join(c.text for c in chunks) == text


def test_sentence_ends_win_over_commas() -> None:
    sentences = [
        "商品在签收后三十天内可以无理由退货。",
        "请保留原始包装和购物小票，以便我们尽快处理退款！",
        "退款何时到账？",
    ]
    text = "".join(sentences * 6)

    chunks = chunk_elements([para(text)], chunk_size=60, chunk_overlap=0)

    for chunk in chunks:
        assert chunk.text.endswith(("。", "！", "？")), chunk.text
    assert "".join(c.text for c in chunks) == text


def test_without_punctuation_chinese_is_cut_between_jieba_words() -> None:
    text = "我们向全国所有省份配送偏远地区可能需要额外的两到三天订单满九十九元免运费" * 6
    boundaries, offset = {0}, 0
    for word in jieba.cut(text):
        offset += len(word)
        boundaries.add(offset)

    chunks = chunk_elements([para(text)], chunk_size=40, chunk_overlap=0)

    assert len(chunks) > 5
    assert "".join(c.text for c in chunks) == text
    ends, offset = [], 0
    for chunk in chunks:
        offset += len(chunk.text)
        ends.append(offset)
    assert set(ends) <= boundaries, "a chunk ends inside a word"


def test_english_still_splits_at_sentences() -> None:
    text = " ".join(f"Sentence number {i} explains one more rule of the warranty." for i in range(30))

    chunks = chunk_elements([para(text)], chunk_size=200, chunk_overlap=0, cjk_weight=3)

    assert all(c.text.endswith(".") and len(c.text) <= 200 for c in chunks)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 概述", True),
        ("第三章 系统配置", True),
        ("2.1 Installation", True),
        ("本系统用于管理知识库。", False),  # a sentence
        ("概述", False),  # no numeral: Chatchat's rule
        ("2024", False),
        ("1. " + "很长的标题" * 6, False),
    ],
)
def test_possible_titles(text: str, expected: bool) -> None:
    assert is_possible_title(text) is expected


def test_title_enhance_turns_numbered_lines_into_headings() -> None:
    elements = [
        para("1 概述"),
        para("本系统用于管理企业的知识库文档。"),
        para("2 安装步骤"),
        para("先安装依赖，再启动服务。"),
    ]

    plain = chunk_elements(elements, 30, 0, cjk_weight=1)
    enhanced = chunk_elements(elements, 30, 0, cjk_weight=1, title_enhance=True)

    assert all("title" not in c.meta for c in plain)
    assert [(c.meta["title"], c.text) for c in enhanced] == [
        ("1 概述", "1 概述\n本系统用于管理企业的知识库文档。"),
        ("2 安装步骤", "2 安装步骤\n先安装依赖，再启动服务。"),
    ]
