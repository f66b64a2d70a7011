"""Content words: the keyword-search tokens that carry what a text says.

Keyword-search tokens (English stop words dropped and suffixes folded, Chinese through jieba)
less the `[n]` markers, filler words any answer may use whatever it says, and one-character
tokens but digits. The answer judge and sentence attribution both count these.
"""

from __future__ import annotations

import re

from vectorstore.tokenize import tokenize

_MARKER = re.compile(r"\[(\d+)\]")
# Words any answer may use whatever it says; counting them would credit a wrong answer.
_FILLER = frozenset(
    [
        "also",
        "use",
        "using",
        "used",
        "uses",
        "one",
        "way",
        "ways",
        "may",
        "might",
        "must",
        "should",
        "just",
        "only",
        "very",
        "more",
        "most",
        "some",
        "any",
        "all",
        "other",
        "same",
        "like",
        "get",
        "make",
        "made",
        "need",
        "see",
        "e",
        "g",
        "eg",
        "answer",
        "question",
        "passage",
        "passages",
        "reference",
        "according",
        "使用",
        "一个",
        "一些",
        "这个",
        "那个",
        "这样",
        "如果",
        "因为",
        "所以",
        "但是",
        "需要",
        "通过",
        "进行",
        "或者",
        "以及",
        "其他",
        "答案",
        "问题",
        "资料",
        "根据",
    ]
)


def content_words(text: str) -> set[str]:
    words = tokenize(_MARKER.sub(" ", text))
    return {w for w in words if w not in _FILLER and (len(w) > 1 or w.isdigit())}


def restates(answer: str, question: str) -> bool:
    """True when `answer` has no content word that `question` lacks: it only asks the question back."""
    return not content_words(answer) - content_words(question)
