"""Which passage backs each sentence of an answer, and which sentences no passage backs.

Small models rarely write `[n]` themselves, so citations are worked out, not taken on trust: a
sentence is supported by a passage when more than half (`SUPPORT_BAR`) of its content words (see
`content_words`: jieba words for Chinese, stop and filler words dropped) occur in the passage. It
cites the best such passage, and a second one when that also clears the bar and adds words the
first lacks. A marker the model wrote is kept when its passage holds at least `KEEP_MARKER` of
the sentence's words. A sentence no passage supports is `unsupported`. Sentences with fewer than
`MIN_WORDS` content words ("Yes.") are too short to judge, and a lead-in ending with a colon
("Two ways:") claims nothing: both keep only the model's own valid markers and are never flagged.

The bar was calibrated on hand-labelled (sentence, passage) pairs (tests/fixtures/answers/
support_pairs.jsonl) and on the sentences of the judge's labelled answers; exactly half is where
the two sets disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb_server.schemas import AnswerSentence, Citation
from kb_server.services.content_words import content_words
from kb_server.services.quoting import QuotedSentence
from kb_server.services.sentences import Piece, join_sentences, split_sentences, strip_markers

SUPPORT_BAR = 0.55
KEEP_MARKER = 0.25
MIN_WORDS = 2


@dataclass(frozen=True)
class Attributed:
    sentences: list[AnswerSentence]
    text: str  # the answer with each cited sentence followed by its [n] markers

    @property
    def unsupported(self) -> int:
        return sum(s.unsupported for s in self.sentences)


def support(words: set[str], passage: set[str]) -> float:
    """Share of a sentence's content words found in a passage (0 for a sentence without any)."""
    return len(words & passage) / len(words) if words else 0.0


def choose(words: set[str], passages: dict[int, set[str]], marked: Sequence[int]) -> tuple[list[int], bool]:
    """(the passages a sentence cites, whether it is supported), passages by their number."""
    scores = {n: support(words, p) for n, p in passages.items()}
    ranked = sorted(scores, key=lambda n: (-scores[n], n))
    chosen: list[int] = []
    if ranked and scores[ranked[0]] >= SUPPORT_BAR:
        best = ranked[0]
        chosen.append(best)
        for n in ranked[1:]:
            if scores[n] >= SUPPORT_BAR and (words & passages[n]) - passages[best]:
                chosen.append(n)
                break
    supported = bool(chosen)
    for n in marked:
        if n in scores and n not in chosen and (scores[n] >= KEEP_MARKER or len(words) < MIN_WORDS):
            chosen.append(n)
    return sorted(chosen), supported


def attribute(text: str, citations: Sequence[Citation]) -> Attributed:
    """Split a generated answer into sentences and cite each from the passages (see the module doc)."""
    passages = {c.n: content_words(c.text) for c in citations}
    merged: list[tuple[Piece, str, list[int]]] = []
    for piece in split_sentences(text):
        clean, marked = strip_markers(piece.text)
        if not clean and merged:  # markers on a line of their own belong to the sentence before
            last_piece, last_clean, last_marked = merged[-1]
            merged[-1] = (last_piece, last_clean, last_marked + [n for n in marked if n not in last_marked])
        elif clean:
            merged.append((piece, clean, marked))
    sentences: list[AnswerSentence] = []
    for piece, clean, marked in merged:
        words = content_words(clean)
        cited, supported = choose(words, passages, marked)
        judged = len(words) >= MIN_WORDS and not clean.endswith((":", "："))
        sentences.append(
            AnswerSentence(text=clean, citations=cited, unsupported=judged and not supported, before=piece.before)
        )
    return Attributed(sentences, render(sentences))


def from_quote(quoted: Sequence[QuotedSentence]) -> Attributed:
    """A quote answer: each sentence is a passage's own words, so it cites that passage."""
    sentences: list[AnswerSentence] = []
    for i, q in enumerate(quoted):
        gap = "" if i == 0 or _ends_cjk(quoted[i - 1].text) else " "
        sentences.append(AnswerSentence(text=q.text, citations=[q.n], unsupported=False, before=gap))
    return Attributed(sentences, render(sentences))


def render(sentences: Sequence[AnswerSentence]) -> str:
    """The sentences back in their layout, each cited one followed by its markers ("…。[1]")."""
    return join_sentences((s.before, s.text + _markers(s)) for s in sentences)


def _markers(s: AnswerSentence) -> str:
    markers = "".join(f"[{n}]" for n in s.citations)
    if markers and Piece("", s.text).is_code:
        return "\n" + markers  # after a fenced block's closing line, not on it
    return markers


def _ends_cjk(text: str) -> bool:
    return text.endswith(("。", "！", "？", "；"))
