"""One refusal signal: the model's many ways of saying it has no answer, and real answers that are not."""

from __future__ import annotations

import pytest

from llm import NO_ANSWER
from llm.refusal import is_model_refusal

REFUSALS = [
    "",
    "   ",
    "[1]",
    "[1][2].",
    "【1】",
    NO_ANSWER["en"],
    NO_ANSWER["zh"],
    "I don't know.",
    "I do not know the answer to that.",
    "Sorry, I cannot answer this question from the passages.",
    "The passages do not mention a torque specification.",
    "The provided passages do not contain information about boiling eggs.",
    "The knowledge base has no answer to this question [1].",
    "There is no information about the World Cup in the passages.",
    "It is not mentioned in the passages.",
    "我不知道。",
    "抱歉，无法回答这个问题。",
    "资料中没有提到这个问题。",
    "参考资料没有相关内容。",
    "没有找到相关信息。",
]

# Real answers (from the Python FAQ and its Chinese translation), some mentioning what is missing.
ANSWERS = [
    "Python uses indentation for grouping because Guido van Rossum finds it elegant [1].",
    "Use the dis module to disassemble bytecode.",
    "There are no begin/end brackets, so the parser and the reader cannot disagree [1].",
    "You cannot find the bytecode of a builtin function, because builtins are written in C.",
    "Python does not have a switch statement; use if... elif... or a dict of functions [2].",
    "Python 使用缩进来分组语句，因为 Guido 认为这样更优雅 [1]。",
    "可以使用 copy 模块中的 copy() 函数来复制对象。",
    "Python 没有 switch 语句，可以用 if... elif... 代替。",
]


@pytest.mark.parametrize("reply", REFUSALS)
def test_refusals_in_any_wording_are_one_signal(reply: str) -> None:
    assert is_model_refusal(reply)


@pytest.mark.parametrize("reply", ANSWERS)
def test_answers_are_not_refusals(reply: str) -> None:
    assert not is_model_refusal(reply)
