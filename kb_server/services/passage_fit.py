"""Passages cut to a token budget before they reach the LLM.

Time to first token is prompt processing: on 2 quiet cores the 0.5B model reads ~125 tokens/s
(~195 with an AVX-512 build of llama.cpp), so three whole FAQ passages (~1,000 tokens) cost 5-8 s
before the first word. Each passage keeps its opening
line (usually the heading, which says what the passage is about) and a run of sentences from the one
that shares most keyword-search tokens with the question onwards, since answers follow the words
that match the question. Better-ranked passages get a larger share; what one leaves unused goes to
the next. The user still sees the whole passage in the citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from kb_server.services.quoting import passage_sentences
from vectorstore.tokenize import tokenize

TokenCounter = Callable[[str], int]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Shares of the budget by rank: the best passage holds the answer most often.
_WEIGHTS = (3.0, 2.0, 1.5)
GAP = " … "


def estimate_tokens(text: str) -> int:
    """Roughly what a BPE tokenizer of the Qwen/Llama kind makes of it: ~4 chars of Latin, ~0.7 per Han."""
    han = len(_HAN.findall(text))
    return int(han * 0.7 + (len(text) - han) / 4) + 1


def fit_passages(question: str, texts: list[str], budget: int, count: TokenCounter = estimate_tokens) -> list[str]:
    """``texts`` (best first) cut to about ``budget`` tokens in all; ``budget <= 0`` keeps them whole.

    A passage that gets no room comes back empty: the caller leaves it out of the prompt.
    """
    if budget <= 0:
        return list(texts)
    wanted = set(tokenize(question))
    weights = [(_WEIGHTS[i] if i < len(_WEIGHTS) else 1.0) for i in range(len(texts))]
    left = budget
    fitted: list[str] = []
    for i, text in enumerate(texts):
        share = int(left * weights[i] / sum(weights[i:]))
        piece, size = _cut(text, wanted, share, count)
        left -= size
        fitted.append(piece)
    return fitted


def _cut(text: str, wanted: set[str], room: int, count: TokenCounter) -> tuple[str, int]:
    """The piece of ``text`` that fits ``room`` tokens, and its size (counted once per sentence)."""
    whole = count(text)
    if whole <= room:
        return text, whole
    sentences = passage_sentences(text)
    if not sentences:
        return "", 0
    sizes = [count(s) for s in sentences]
    overlap = [len(wanted & set(tokenize(s))) for s in sentences]
    # The first sentence is the heading when there is one; it rarely holds the answer itself.
    anchor = max(range(len(sentences)), key=lambda j: (overlap[j], -j))
    order = [0, *range(max(anchor, 1), len(sentences)), *range(anchor - 1, 0, -1)]
    kept: set[int] = set()
    used = 0
    for j in order:
        if used + sizes[j] > room:
            if kept:
                break
            continue
        kept.add(j)
        used += sizes[j]
    pieces: list[str] = []
    for j in sorted(kept):
        if pieces and j - 1 not in kept:
            pieces.append(GAP.strip())
        pieces.append(sentences[j])
    return " ".join(pieces), used
