from __future__ import annotations

import pytest

from vectorstore.tokenize import han_share, index_tokens, segment_tag, tokenize

pytestmark = pytest.mark.unit


def test_english_words_are_lowercased_stop_words_dropped_and_plurals_folded() -> None:
    assert tokenize("How do I create Binaries from the Modules?") == ["create", "binary", "module"]
    assert tokenize("class process analysis") == ["class", "process", "analysis"]


def test_chinese_goes_through_jieba_search_mode() -> None:
    tokens = tokenize("知识库中没有找到答案")
    assert "知识库" in tokens
    assert "知识" in tokens  # search mode also yields the shorter words inside
    assert "答案" in tokens
    assert "中" not in tokens  # a stop word


def test_mixed_text_keeps_both_scripts() -> None:
    assert {"python", "asyncio", "使用"} <= set(tokenize("如何在 Python 中使用 asyncio"))


def test_simple_mode_keeps_a_han_run_as_one_token() -> None:
    assert tokenize("知识库中没有找到答案", "simple") == ["知识库中没有找到答案"]
    assert tokenize("binaries", "simple") == ["binary"]


def test_keyword_search_also_indexes_each_han_character() -> None:
    tokens = index_tokens("有没有 Python 相关的书籍？")
    assert {"python", "书籍", "书", "籍", "相关", "相"} <= set(tokens)
    assert "的" not in tokens  # stop words, as words or characters
    assert "有" not in tokens
    assert set(index_tokens("书呢？")) & set(tokens) == {"书"}  # a question's 书 meets the document's 书籍
    assert index_tokens("How do I create Binaries?") == tokenize("How do I create Binaries?")
    assert index_tokens("知识库", "simple") == ["知识库"]
    # Segments name what made them, so those from before characters were indexed are re-tokenized.
    assert segment_tag("auto") != "auto"
    assert segment_tag("simple") == "simple"


def test_han_share() -> None:
    assert han_share("pure English text") == 0.0
    assert han_share("大熊猫吃竹子") == 1.0
    assert 0.3 < han_share("如何在 Python 中使用 asyncio") < 1.0
