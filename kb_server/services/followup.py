"""The cheap standalone question: a follow-up that leans on the previous question gets its key terms.

No model: a follow-up "looks dependent" when it is short or refers back — a pronoun or a
demonstrative ("it", "that one", "它", "这个"), a leading "and / what about / 那…", a closing "…呢".
Then the key terms of the previous question (its keyword-search tokens, jieba for Chinese, that
the follow-up does not already have) are added to it: "and how do I build it?" after "How do I
install a source package?" is searched as "and how do I build it? (install source package)".
The previous question is itself made standalone first, so a chain of follow-ups keeps its subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb_server.services.content_words import content_words
from llm.base import Message
from llm.prompts import detect_language
from vectorstore.tokenize import tokenize

MAX_TERMS = 8
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_PIECE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W_]+")
_EN_WORD = re.compile(r"[^\W_]+")
_EN_REFERS = re.compile(
    r"\b(it|its|it's|this|that|these|those|them|they|their|both|such|former|latter|instead|either|else|above|"
    r"previous|again)\b",
    re.IGNORECASE,
)
# "one", "another", "the same" refer back unless a noun follows ("one list", "another module").
_EN_STANDS_IN = re.compile(
    r"\b(one|ones|another|other|same)\b(?=\s*(?:[^\w\s]|$|(?:then|too|instead|anyway|again|as|of|from|for|in|on)\b))",
    re.IGNORECASE,
)
_EN_LEADS = re.compile(
    r"^\s*(and|but|or|so|then|also|plus|what about|how about|what if|why not|ok|okay)\b", re.IGNORECASE
)
_ZH_REFERS = re.compile(
    r"它|这个|那个|这些|那些|这种|那种|这样|那样|这么|这两|两者|这里|那里|其中|上面|前面|刚才|反过来|另一个|其他|同样|此"
)
# A Chinese follow-up often drops its subject altogether: it starts with a modal or a connective
# ("能一次都生成吗？", "应该先从哪里下手？"), or ends asking what to do about it ("…怎么办？").
_ZH_LEADS = re.compile(r"^\s*(那|那么|还有|而且|另外|也|还|如果|要是|可|但是|能|可以|会|要|应该|需要|是不是|有没有)")
_ZH_PLACE = frozenset("里内外前后旁间边")
_ZH_ENDS = re.compile(r"(呢|怎么办)\s*[？?]?\s*$")


def looks_dependent(question: str) -> bool:
    """Whether a question probably needs an earlier turn to be understood."""
    if detect_language(question) == "zh":
        han = sum(len(run) for run in _HAN_RUN.findall(question))
        if _ZH_REFERS.search(question) or _ZH_LEADS.search(question) or _ZH_ENDS.search(question):
            return True
        return han <= 5 or len(content_words(question)) <= 1
    if _EN_REFERS.search(question) or _EN_STANDS_IN.search(question) or _EN_LEADS.search(question):
        return True
    return len(content_words(question)) <= 1 or len(_EN_WORD.findall(question)) <= 3


def _carries(word: str) -> bool:
    # Chinese has one-character nouns (类, 书, 键) that content words leave out; locatives are not subjects.
    return bool(content_words(word)) or (len(word) == 1 and bool(_HAN_RUN.fullmatch(word)) and word not in _ZH_PLACE)


def key_terms(text: str, exclude: set[str]) -> list[str]:
    """The words of `text` that keyword search would match on, as written, but those in `exclude`
    (keyword-search tokens). Chinese runs give jieba's longest words (知识库, not also 知识)."""
    terms: list[str] = []
    seen: set[str] = set()
    for piece in _PIECE.findall(text):
        if _HAN_RUN.fullmatch(piece):
            tokens = tokenize(piece)
            words = [t for t in tokens if not any(t != o and t in o for o in tokens)]
        else:
            words = [piece] if tokenize(piece) else []
        for word in words:
            folded = set(tokenize(word))
            if not folded or folded & exclude or not _carries(word) or word.lower() in seen:
                continue
            seen.add(word.lower())
            terms.append(word)
    return terms[:MAX_TERMS]


def carry_terms(question: str, previous: str) -> str | None:
    """`question` with the key terms of `previous` it lacks, or None when it looks standalone or
    there is nothing to add."""
    if not looks_dependent(question):
        return None
    return shown_with(question, key_terms(previous, set(tokenize(question))))


def shown_with(question: str, terms: Sequence[str]) -> str | None:
    """The follow-up as it is shown searched for: its carried terms in brackets."""
    if not terms:
        return None
    if detect_language(question) == "zh":
        return f"{question.strip()}（{' '.join(terms)}）"
    return f"{question.strip()} ({' '.join(terms)})"


def carried_terms(question: str, history: Sequence[Message]) -> list[str]:
    """The key terms a follow-up lacks from the earlier user questions; none when it reads as standalone."""
    asked = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not asked or not looks_dependent(question):
        return []
    previous = asked[0]
    for earlier in asked[1:]:
        previous = carry_terms(earlier, previous) or earlier
    return key_terms(previous, set(tokenize(question)))


def with_key_terms(question: str, history: Sequence[Message]) -> str | None:
    """The follow-up made standalone from the earlier user questions, or None to search it as asked."""
    return shown_with(question, carried_terms(question, history))
