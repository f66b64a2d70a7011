"""Follow-ups made standalone without a model (key terms carried, English and Chinese), and the
cleaning of what a model replies when asked for the rewrite."""

from __future__ import annotations

import pytest

from kb_server.services.followup import looks_dependent, with_key_terms
from kb_server.services.rewrite import Rewrite, standalone
from kb_server.settings import ChatSettings
from llm.rewrite_prompts import build_rewrite_messages, clean_rewrite

pytestmark = pytest.mark.unit


def _turns(*questions: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for q in questions:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "An answer, cited [1]."}]
    return out


@pytest.mark.parametrize(
    ("question", "dependent"),
    [
        ("and how do I build it?", True),
        ("and on Windows?", True),
        ("what about dicts?", True),
        ("why?", True),
        ("How do I convert a number to a string?", False),
        ("How can I sort one list by values from another list?", False),
        ("那测试版呢？", True),
        ("它是怎么实现的？", True),
        ("反过来呢？", True),
        ("可以把它删掉吗？", True),
        ("如何将数字转换为字符串？", False),
        ("怎样使用 Python 脚本发送邮件？", False),
    ],
)
def test_a_follow_up_looks_dependent_when_short_or_referring_back(question: str, dependent: bool) -> None:
    assert looks_dependent(question) is dependent


def test_the_previous_question_s_key_terms_are_carried_in_english() -> None:
    history = _turns("How do I install a source package?")
    assert with_key_terms("and how do I build it?", history) == "and how do I build it? (install source package)"
    # A question that stands on its own is searched as asked, and so is one without earlier turns.
    assert with_key_terms("How do I convert a number to a string?", history) is None
    assert with_key_terms("and how do I build it?", []) is None


def test_a_chain_of_follow_ups_keeps_its_subject() -> None:
    history = _turns("How do I install a source package?", "and how do I build it?")
    carried = with_key_terms("and test it?", history)
    assert carried is not None
    assert carried.startswith("and test it? (")
    assert {"build", "install", "source", "package"} <= set(carried.strip(")").split("(")[1].split())


def test_chinese_key_terms_come_from_jieba_words_not_their_parts() -> None:
    history = _turns("怎么获取 Python 的源代码？")
    assert with_key_terms("那测试版呢？", history) == "那测试版呢？（获取 Python 源代码）"
    # Words the follow-up already has are not added twice.
    assert with_key_terms("那 Python 的测试版呢？", history) == "那 Python 的测试版呢？（获取 源代码）"


def test_keywords_setting_and_the_switch_off() -> None:
    history = _turns("How do I install a source package?")
    carried = "and how do I build it? (install source package)"
    keywords = ChatSettings(rewrite="keywords")
    # The question is searched as asked with the carried words as context, shown with them in brackets.
    assert standalone(keywords, None, "and how do I build it?", history) == Rewrite(
        "and how do I build it?", carried, "keywords", "install source package"
    )
    assert standalone(ChatSettings(rewrite="off"), None, "and how do I build it?", history) == Rewrite(
        "and how do I build it?"
    )
    # With no model the llm setting falls back to the key terms.
    assert standalone(ChatSettings(rewrite="llm"), None, "and how do I build it?", history).method == "keywords"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("How do I build a source package?", "How do I build a source package?"),
        ('Standalone question: "How do I build a source package?"', "How do I build a source package?"),
        ("**Rewritten question:** How do I build a source package?", "How do I build a source package?"),
        ("\n  “How do I build a source package?”\nYou run make [1].", "How do I build a source package?"),
        ("问题：如何获取 Python 的测试版？", None),  # another language than the question's
        ("You build it with make [1].", None),  # an answer, with its citation
        ("The knowledge base has no answer to this question.", None),
        ("", None),
        ("   \n ", None),
        ("How do I build a source package? " * 8, None),  # far longer than the conversation warrants
    ],
)
def test_the_model_s_reply_is_cleaned_or_refused(reply: str, expected: str | None) -> None:
    history = _turns("How do I install a source package?")
    assert clean_rewrite(reply, "and how do I build it?", history) == expected


def test_chinese_replies_are_cleaned_too() -> None:
    history = _turns("怎么获取 Python 的源代码？")
    assert (
        clean_rewrite("改写后的问题：「如何获取 Python 的测试版？」", "那测试版呢？", history)
        == "如何获取 Python 的测试版？"
    )
    assert clean_rewrite("How do I get a beta version?", "那测试版呢？", history) is None


@pytest.mark.parametrize("style", ["brief", "fewshot"])
def test_the_rewrite_prompt_quotes_the_turns_and_ends_with_the_follow_up(style: str) -> None:
    history = _turns("How do I install a source package?")
    history[1]["content"] = "x" * 1000
    messages = build_rewrite_messages("and how do I build it?", history, style)  # type: ignore[arg-type]
    assert messages[0]["role"] == "system"
    last = messages[-1]["content"]
    assert "User: How do I install a source package?" in last
    assert last.endswith("Last question: and how do I build it?")
    assert len(last) < 400  # an earlier answer is cut: what it was about, not all it said
    assert len(messages) == (6 if style == "fewshot" else 2)


def test_a_model_rewrite_must_keep_the_follow_up_s_words_and_add_the_earlier_turns() -> None:
    from kb_server.services.rewrite import rewrites

    history = _turns("where can I download the python source code?")
    assert rewrites("Where can I download a beta version of Python?", "and a beta version?", history)
    # The previous question again (what the 0.5B model often replies): the follow-up's words are gone.
    assert not rewrites("Where can I download the Python source code?", "and a beta version?", history)
    # The follow-up again in other words: nothing of the earlier turn was brought in.
    assert not rewrites("What about the beta version?", "and a beta version?", history)
    # A standalone follow-up only has to keep its own words.
    assert rewrites("How do I copy a file in Python?", "How do I copy a file?", history)
    zh = _turns("我的电脑上为什么装了 Python？")
    assert rewrites("可以把电脑上的 Python 删掉吗？", "可以把它删掉吗？", zh)
    assert not rewrites("为什么电脑上装了 Python？", "可以把它删掉吗？", zh)
