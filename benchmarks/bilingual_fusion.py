"""Weights for a `bilingual` preset (MiniLM dense + e5 dense + BM25, by query language), derived on
one half of the paraphrase fixtures and checked on the other.

Input: a saved `benchmarks.retrieval_presets --presets minilm multilingual --save FILE` run. Both
servers ingested the same pages into the same chunks (chunking does not depend on the embedder),
and hits are keyed by file and text, so each question has three top-100 lists on one set of chunks:
MiniLM dense and e5 dense (each already on the common 0..1 scale of vectorstore.score_scale) and
BM25 (scaled by the query's best possible score). A chunk's fused score is
`w_minilm * minilm + w_e5 * e5 + w_bm25 * bm25`, as the server fuses two today. A chunk missing
from a list gets 0 there (it is below that list's top 100, so close to it); for the refusals at
`chat.score_threshold` an upper bound is shown too, where a missing score is the list's 100th.

The split: paraphrase ids are odd (tuning, 43 questions per language) or even (held out, 42); the
English and Chinese twins of one id fall on the same side. A question's language is
`llm.prompts.detect_language`'s (the mixed Chinese-English questions are Chinese by it). On the
tuning half, for each language, every weight triple on a 0.1 grid summing to 1 (66) is scored by
MRR@10 over that language's paraphrases (ties: hit@5, then the heavier BM25 share); the chosen
triple is then reported on both halves, on the heading sets and the cross-lingual sets (an
English paraphrase asked of the Chinese FAQ and the reverse; not used for tuning), and with the
roles of the halves swapped, which shows how much the choice depends on the half. Beside it,
"routing" (`ROUTING`, not tuned): each language's better embedder at today's dense weight. Then
the refusals at the threshold for each choice of weights.

    .venv/bin/python -m benchmarks.bilingual_fusion FILE
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.retrieval_presets import OFFTOPIC, THRESHOLD, question_sets, read_jsonl
from kb_server.services.evaluation import RankMetrics, rank_metrics
from llm.prompts import detect_language

Triple = tuple[float, float, float]  # minilm dense, e5 dense, bm25
GRID: list[Triple] = [(a / 10, b / 10, round(1 - a / 10 - b / 10, 1)) for a in range(11) for b in range(11 - a)]
PARAPHRASE_SETS = ("en paraphrases", "zh paraphrases")
# Not used for tuning: the headings, and each paraphrase asked of the other language's FAQ.
CHECK_SETS = ("en headings", "zh headings", "en para -> zh KB", "zh para -> en KB")
Keep = Callable[[dict[str, Any]], bool]
# Not tuned here: each language's better embedder at today's `search.dense_weight` (0.6), i.e.
# MiniLM hybrid for English questions and multilingual hybrid for Chinese ones.
ROUTING: dict[str, Triple] = {"en": (0.6, 0.0, 0.4), "zh": (0.0, 0.6, 0.4)}


def lists_of(minilm_row: dict[str, Any], e5_row: dict[str, Any]) -> list[dict[str, float]]:
    return [
        {c: min(max(s, 0.0), 1.0) for c, s, *_ in minilm_row["dense"]},
        {c: min(max(s, 0.0), 1.0) for c, s, *_ in e5_row["dense"]},
        {c: s for c, s, *_ in minilm_row["keyword"]},
    ]


def fuse(lists: list[dict[str, float]], weights: Triple, upper: bool = False) -> list[tuple[str, float]]:
    """Chunks by fused score, best first; `upper`: a chunk missing from a list scores its 100th there."""
    floors = [min(scores.values(), default=0.0) if upper and len(scores) >= 100 else 0.0 for scores in lists]
    union = set().union(*lists)
    scored = {c: sum(w * scores.get(c, f) for w, scores, f in zip(weights, lists, floors, strict=True)) for c in union}
    return sorted(scored.items(), key=lambda item: -item[1])


class Questions:
    """Every question of every set with its three lists, its language and which chunks are relevant."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        by_preset = {r["preset"]: r for r in results}
        minilm, e5 = by_preset["minilm"], by_preset["multilingual"]
        self.minilm, self.e5 = minilm, e5
        self.rows: dict[str, list[dict[str, Any]]] = {}
        for name, (_, questions) in question_sets().items():
            if name not in minilm["sets"]:
                continue
            rows = []
            for q, m_row, e_row in zip(questions, minilm["sets"][name], e5["sets"][name], strict=True):
                relevant = {c: r for row in (m_row, e_row) for mode in ("dense", "keyword") for c, _, r in row[mode]}
                rows.append(
                    {
                        "id": q.get("id"),
                        "language": detect_language(q["question"]),
                        "lists": lists_of(m_row, e_row),
                        "relevant": relevant,
                        "server": {"minilm": m_row["hybrid"], "multilingual": e_row["hybrid"]},
                    }
                )
            self.rows[name] = rows

    def metrics(self, name: str, weights: Callable[[str], Triple], keep: Keep) -> RankMetrics:
        rankings = [
            [row["relevant"][c] for c, _ in fuse(row["lists"], weights(row["language"]))[:10]]
            for row in self.rows[name]
            if keep(row)
        ]
        return rank_metrics(rankings)

    def server_metrics(self, name: str, preset: str, keep: Keep) -> RankMetrics:
        return rank_metrics([[r for _, _, r in row["server"][preset][:10]] for row in self.rows[name] if keep(row)])


def choose(questions: Questions, language: str, parity: int) -> tuple[Triple, RankMetrics]:
    def keep(row: dict[str, Any]) -> bool:
        return row["id"] % 2 == parity and row["language"] == language

    def key(w: Triple) -> tuple[float, float, float]:
        rankings = [
            [row["relevant"][c] for c, _ in fuse(row["lists"], w)[:10]]
            for name in PARAPHRASE_SETS
            for row in questions.rows[name]
            if keep(row)
        ]
        m = rank_metrics(rankings)
        return (round(m.mrr_at_10, 6), round(m.hit_at_5, 6), w[2])

    best = max(GRID, key=key)
    rankings = [
        [row["relevant"][c] for c, _ in fuse(row["lists"], best)[:10]]
        for name in PARAPHRASE_SETS
        for row in questions.rows[name]
        if keep(row)
    ]
    return best, rank_metrics(rankings)


def fmt(m: RankMetrics) -> str:
    return f"{m.hit_at_1:.3f} {m.hit_at_5:.3f} {m.mrr_at_10:.3f}"


def report_split(questions: Questions, tuning: int) -> dict[str, Triple]:
    held_out = 1 - tuning
    label = {1: "odd ids", 0: "even ids"}
    chosen = {}
    print(f"\ntuning half: {label[tuning]}, held out: {label[held_out]}")
    for language in ("en", "zh"):
        weights, m = choose(questions, language, tuning)
        chosen[language] = weights
        print(f"  {language} questions: minilm/e5/bm25 = {weights}  (tuning half: hit@1 hit@5 MRR@10 {fmt(m)})")
    by_language = chosen.__getitem__
    halves: list[tuple[str, Keep]] = [
        ("tuning", lambda row: row["id"] % 2 == tuning),
        ("held out", lambda row: row["id"] % 2 == held_out),
        ("all", lambda row: True),
    ]
    columns = ("minilm hybrid", "multilingual hybrid", "bilingual tuned", "bilingual routing")
    print(f"  {'set':16s} {'half':9s} {'n':>3s}" + "".join(f" {c:>19s}" for c in columns))
    every: list[tuple[str, Keep]] = [("(none)", lambda row: True)]
    for name in ("en paraphrases", "zh paraphrases", "zh mixed zh-en", *CHECK_SETS):
        if name not in questions.rows:  # a run saved before the cross-lingual sets were
            continue
        for half, keep in every if name in CHECK_SETS else halves:
            n = sum(1 for row in questions.rows[name] if keep(row))
            cells = [questions.server_metrics(name, p, keep) for p in ("minilm", "multilingual")]
            cells.append(questions.metrics(name, by_language, keep))
            cells.append(questions.metrics(name, ROUTING.__getitem__, keep))
            print(f"  {name:16s} {half:9s} {n:3d}" + "".join(f" {fmt(c):>19s}" for c in cells))
    return chosen


def report_refusals(questions: Questions, label: str, weights: dict[str, Triple]) -> None:
    print(f"\nchat.score_threshold {THRESHOLD}, weights {label} {weights}: fused top-1 score median,")
    print("  and questions with none above it (off-topic: missing scores 0 / upper bound)")
    minilm, e5 = questions.minilm, questions.e5
    for name, m_lists in minilm["offtopic_lists"].items():
        language = name.split(" ", 1)[0]
        texts = [q["question"] for q in read_jsonl(OFFTOPIC[language])]
        bounds = []
        for upper in (False, True):
            tops = []
            for text, m_row, e_row in zip(texts, m_lists, e5["offtopic_lists"][name], strict=True):
                ranked = fuse(lists_of(m_row, e_row), weights[detect_language(text)], upper)
                tops.append(ranked[0][1] if ranked else 0.0)
            tops.sort()
            bounds.append(f"{tops[len(tops) // 2]:.2f} {sum(s < THRESHOLD for s in tops):3d}/{len(tops)}")
        print(f"  off-topic {name:14s} " + "   ".join(bounds))
    for name in ("en headings", "zh headings", "en paraphrases", "zh paraphrases"):
        tops = sorted(
            (fuse(row["lists"], weights[row["language"]]) or [("", 0.0)])[0][1] for row in questions.rows[name]
        )
        refused = sum(s < THRESHOLD for s in tops)
        print(f"  {name:24s} {tops[len(tops) // 2]:.2f} {refused:3d}/{len(tops)} wrongly refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a saved retrieval_presets run of minilm and multilingual")
    args = parser.parse_args()
    questions = Questions(json.loads(args.results.read_text()))
    odd = report_split(questions, tuning=1)
    even = report_split(questions, tuning=0)
    for label, weights in (("tuned on odd ids", odd), ("tuned on even ids", even), ("routing", ROUTING)):
        report_refusals(questions, label, weights)


if __name__ == "__main__":
    main()
