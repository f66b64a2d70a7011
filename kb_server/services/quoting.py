"""Quote mode: answer with the most relevant sentences of the top passages, cited, with no LLM.

Instant, and it cannot invent: every word comes from a passage (`attribution.from_quote` renders
it, each sentence with its passage's [n]). It is also what chat does when no
LLM is installed. Sentences are scored by how many of the question's keyword-search tokens they
contain (jieba for Chinese, plurals folded), so "which sentence" means the same as keyword search.
A sentence that only restates the question (a FAQ's heading) is never quoted; the one after it is
scored as the heading was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb_server.schemas import Citation
from kb_server.services.content_words import restates
from vectorstore.tokenize import tokenize

# A sentence ends at 。！？ or at . ! ? followed by white space; lines are sentences of their own.
_SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+|\n+")
MAX_SENTENCES = 3
MAX_CHARS = 600


@dataclass(frozen=True)
class QuotedSentence:
    text: str
    n: int  # the passage it is taken from


def passage_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and len(s.strip()) > 1]


def quote(question: str, citations: list[Citation]) -> list[QuotedSentence]:
    """Up to MAX_SENTENCES sentences sharing most tokens with the question, best passage first.

    Within one passage they keep their order, so a quote reads as the document does.
    """
    wanted = set(tokenize(question))
    scored: list[tuple[float, int, int, str, int]] = []
    for rank, c in enumerate(citations):
        carried = 0.0
        for position, sentence in enumerate(passage_sentences(c.text)):
            tokens = set(tokenize(sentence))
            # Earlier passages rank higher at equal overlap: retrieval already judged them.
            score = len(wanted & tokens) / max(len(wanted), 1) - 0.01 * rank
            if restates(sentence, question):
                # A heading that asks the question tells the user nothing; the text it introduces
                # answers it, so the next sentence takes its score.
                carried = max(carried, score)
                continue
            score, carried = max(score, carried), 0.0
            if score > 0:
                scored.append((score, rank, position, sentence, c.n))
    if not scored and citations:
        first = [s for s in passage_sentences(citations[0].text) if not restates(s, question)]
        return [QuotedSentence(first[0], citations[0].n)] if first else []
    chosen: list[tuple[int, int, str, int]] = []
    length = 0
    for _score, rank, position, sentence, n in sorted(scored, key=lambda s: -s[0]):
        if len(chosen) == MAX_SENTENCES or (chosen and length + len(sentence) > MAX_CHARS):
            break
        chosen.append((rank, position, sentence, n))
        length += len(sentence)
    return [QuotedSentence(sentence, n) for _rank, _position, sentence, n in sorted(chosen)]
