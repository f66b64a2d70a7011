"""Retrieval evaluation: is a retrieved chunk relevant to a reference answer, and rank metrics.

A chunk is relevant when its word 3-grams overlap the answer's by at least half of either set
(each CJK character counts as a word), so no hand labelling is needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def trigrams(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    if len(w) < 3:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}


def is_relevant(chunk: str, answer: str) -> bool:
    c, a = trigrams(chunk), trigrams(answer)
    if not c or not a:
        return False
    shared = len(c & a)
    return shared >= 0.5 * len(c) or shared >= 0.5 * len(a)


@dataclass(frozen=True)
class RankMetrics:
    n: int
    hit_at_1: float
    hit_at_5: float
    hit_at_10: float
    mrr_at_10: float
    ndcg_at_10: float


def rank_metrics(relevance: Sequence[Sequence[bool]]) -> RankMetrics:
    """Metrics over queries, each given as the relevance of its ranked results (best first)."""
    n = len(relevance)
    if n == 0:
        return RankMetrics(0, 0, 0, 0, 0, 0)
    h1 = h5 = h10 = mrr = ndcg = 0.0
    for flags in relevance:
        top = list(flags[:10])
        first = next((i for i, f in enumerate(top) if f), None)
        if first is not None:
            h1 += first < 1
            h5 += first < 5
            h10 += 1
            mrr += 1 / (first + 1)
        dcg = sum(1 / math.log2(i + 2) for i, f in enumerate(top) if f)
        ideal = sum(1 / math.log2(i + 2) for i in range(sum(top)))
        ndcg += dcg / ideal if ideal else 0.0
    return RankMetrics(n, h1 / n, h5 / n, h10 / n, mrr / n, ndcg / n)
