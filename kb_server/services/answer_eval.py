"""Answer quality: is a chat answer on target, cited, supported by its passages, or refused.

The judge needs neither a model nor labels. An answer is on target when it was not refused, says
at least `MIN_CONTENT_TOKENS` content words of its own, and at least `JUDGE_THRESHOLD` of them
appear in the reference answer. Content words are keyword-search tokens (English stop words
dropped and suffixes folded, Chinese through jieba) less the `[n]` markers, the question's own
words (echoing the question proves nothing), filler words and one-character tokens but digits. The
threshold was calibrated on hand-labelled answers in tests/fixtures/answers/judge_calibration.jsonl
(96 % agreement). It checks that an answer says what the reference says: true facts the reference
does not hold count against an answer, a true fragment that misses the point counts for it.

Responses from before grounded answers carry no `sentences`, `refused_by` or `mode`: then an answer
cites when its text holds a valid `[n]`, `supported_share` is None, and a text that is the fixed
no-answer sentence counts as a refusal by the model.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kb_server.services.content_words import content_words
from llm import NO_ANSWER

JUDGE_THRESHOLD = 0.5
MIN_CONTENT_TOKENS = 2

Kind = Literal["qa", "offtopic"]

_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Judgement:
    on_target: bool
    score: float  # share of the answer's content words found in the reference (0 when too short)
    tokens: int  # the answer's content words


def judge(answer: str, reference: str, question: str = "", *, refused: bool = False) -> Judgement:
    """Whether `answer` says what `reference` says (see the module docstring)."""
    own = content_words(answer) - content_words(question)
    if refused or len(own) < MIN_CONTENT_TOKENS:
        return Judgement(False, 0.0, len(own))
    score = len(own & content_words(reference)) / len(own)
    return Judgement(score >= JUDGE_THRESHOLD, score, len(own))


@dataclass
class AnswerRecord:
    """One question's outcome; the field order is the CSV's column order."""

    kind: Kind
    question: str
    reference: str | None
    answer: str
    on_target: bool | None  # None on the off-topic set: there is no reference
    judge_score: float | None
    supported_share: float | None  # None when the response has no sentences (refused, or an older API)
    cites: bool
    refused: bool
    refused_by: str | None
    mode: str | None
    ttft_s: float | None
    total_s: float
    tokens: int
    error: str | None = None


def is_no_answer(text: str) -> bool:
    plain = _MARKER.sub("", text).strip()
    return any(plain == sentence or plain == sentence.rstrip(".。") for sentence in NO_ANSWER.values())


def refusal(response: dict[str, Any]) -> tuple[bool, str | None]:
    """(refused, by what): the response's own fields, inferred when it predates `refused_by`."""
    refused = bool(response.get("refused"))
    if "refused_by" in response:
        return refused, response["refused_by"] if refused else None
    if refused:
        return True, "model" if response.get("citations") else "threshold"
    if is_no_answer(response.get("answer", "")):
        return True, "model"
    return False, None


def cites(response: dict[str, Any]) -> bool:
    """At least one sentence cites a passage that is among the response's citations."""
    valid = {c["n"] for c in response.get("citations", [])}
    sentences = response.get("sentences")
    if sentences is None:
        return any(int(n) in valid for n in _MARKER.findall(response.get("answer", "")))
    return any(n in valid for s in sentences for n in s.get("citations", []))


def supported_share(response: dict[str, Any]) -> float | None:
    sentences = response.get("sentences")
    if not sentences:
        return None
    return sum(not s.get("unsupported", False) for s in sentences) / len(sentences)


def assess(
    response: dict[str, Any],
    question: str,
    reference: str | None,
    *,
    kind: Kind,
    ttft_s: float | None,
    total_s: float,
    tokens: int,
    mode: str | None = None,
) -> AnswerRecord:
    """The record of one `/api/chat` response (the `done` event or the JSON body)."""
    answer = response.get("answer", "")
    refused, refused_by = refusal(response)
    verdict = judge(answer, reference, question, refused=refused) if reference is not None else None
    return AnswerRecord(
        kind=kind,
        question=question,
        reference=reference,
        answer=answer,
        on_target=verdict.on_target if verdict else None,
        judge_score=round(verdict.score, 3) if verdict else None,
        supported_share=None if refused else supported_share(response),
        cites=not refused and cites(response),
        refused=refused,
        refused_by=refused_by,
        mode=response.get("mode", mode),
        ttft_s=ttft_s,
        total_s=total_s,
        tokens=tokens,
    )


def failed(question: str, reference: str | None, kind: Kind, error: str, total_s: float) -> AnswerRecord:
    """The record of a question the server did not answer (an HTTP or stream error)."""
    return AnswerRecord(
        kind, question, reference, "", None, None, None, False, False, None, None, None, total_s, 0, error
    )


@dataclass(frozen=True)
class Summary:
    n: int  # QA questions answered (errors left out)
    on_target: float | None  # share of the QA questions; a refusal is not on target
    cited: float | None  # share of the QA answers that were not refused
    supported: float | None  # mean supported share of those answers, when the API reports sentences
    false_refusals: float | None  # share of the QA questions refused
    n_offtopic: int
    offtopic_refused: float | None
    ttft_p50: float | None  # over answers a model or a quote produced (threshold refusals left out)
    ttft_p90: float | None
    tokens_per_answer: float | None
    seconds_per_answer: float | None  # median total time of those answers
    errors: int


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(records: Iterable[AnswerRecord]) -> Summary:
    records = list(records)
    ok = [r for r in records if r.error is None]
    qa = [r for r in ok if r.kind == "qa"]
    offtopic = [r for r in ok if r.kind == "offtopic"]
    answered = [r for r in qa if not r.refused]
    generated = [r for r in ok if r.refused_by != "threshold"]
    ttft = [r.ttft_s for r in generated if r.ttft_s is not None]
    supported = [r.supported_share for r in answered if r.supported_share is not None]
    return Summary(
        n=len(qa),
        on_target=_share([bool(r.on_target) for r in qa]),
        cited=_share([r.cites for r in answered]),
        supported=_mean(supported),
        false_refusals=_share([r.refused for r in qa]),
        n_offtopic=len(offtopic),
        offtopic_refused=_share([r.refused for r in offtopic]),
        ttft_p50=percentile(ttft, 0.5),
        ttft_p90=percentile(ttft, 0.9),
        tokens_per_answer=_mean([r.tokens for r in generated if not r.refused]),
        seconds_per_answer=statistics.median([r.total_s for r in generated]) if generated else None,
        errors=len(records) - len(ok),
    )


COLUMNS = [
    ("n", 4),
    ("on-target", 9),
    ("cited", 6),
    ("supported", 9),
    ("false-ref", 9),
    ("n-off", 5),
    ("off-ref", 7),
    ("TTFT-p50", 8),
    ("TTFT-p90", 8),
    ("tok/ans", 7),
    ("s/ans", 6),
    ("errors", 6),
]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: Sequence[tuple[str, Summary]]) -> str:
    """A plain-text table, one row per (label, summary); a missing figure is `-`."""
    width = max([5, *(len(label) for label, _ in rows)])
    lines = [f"{'run':{width}s} " + " ".join(f"{name:>{w}s}" for name, w in COLUMNS)]
    for label, s in rows:
        cells = [
            str(s.n),
            _pct(s.on_target),
            _pct(s.cited),
            _pct(s.supported),
            _pct(s.false_refusals),
            str(s.n_offtopic),
            _pct(s.offtopic_refused),
            _num(s.ttft_p50, 2),
            _num(s.ttft_p90, 2),
            _num(s.tokens_per_answer, 1),
            _num(s.seconds_per_answer, 2),
            str(s.errors),
        ]
        lines.append(f"{label:{width}s} " + " ".join(f"{c:>{w}s}" for c, (_, w) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines) + "\n"
