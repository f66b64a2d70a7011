"""`kb-server eval`: retrieval quality of a knowledge base against question/answer pairs.

Each line of the QA file is `{"question": ..., "answer": ...}`; a retrieved chunk counts as
relevant when its word 3-grams overlap the answer's (see kb_server.services.evaluation). Questions the KB
cannot answer (`--negatives`, one `{"question"}` per line) measure how often the chat would refuse:
no result scoring at least the threshold.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from kb_server.services.evaluation import RankMetrics, is_relevant, rank_metrics


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_mode(
    http: httpx.Client, kb: str, qa: list[dict[str, Any]], mode: str, tokenizer: str | None
) -> tuple[RankMetrics, list[dict[str, Any]]]:
    relevance, misses = [], []
    for item in qa:
        body: dict[str, Any] = {"query": item["question"], "top_k": 10, "mode": mode}
        if tokenizer:
            body["tokenizer"] = tokenizer
        r = http.post(f"/api/kbs/{kb}/search", json=body)
        r.raise_for_status()
        results = r.json()["results"]
        flags = [is_relevant(h["text"], item["answer"]) for h in results]
        relevance.append(flags)
        if not any(flags[:1]):
            misses.append(
                {
                    "mode": mode,
                    "question": item["question"],
                    "rank": next((i + 1 for i, f in enumerate(flags) if f), ""),
                    "top_file": results[0]["file_name"] if results else "",
                    "top_text": results[0]["text"][:300] if results else "",
                }
            )
    return rank_metrics(relevance), misses


def refusal_rate(http: httpx.Client, kb: str, negatives: list[dict[str, Any]], mode: str, threshold: float) -> float:
    refused = 0
    for item in negatives:
        body = {"query": item["question"], "top_k": 1, "mode": mode, "score_threshold": threshold}
        r = http.post(f"/api/kbs/{kb}/search", json=body)
        r.raise_for_status()
        refused += not r.json()["results"]
    return refused / len(negatives) if negatives else float("nan")


def run_eval(
    base_url: str,
    kb: str,
    qa_path: Path,
    modes: list[str],
    tokenizer: str | None,
    misses_csv: Path | None,
    negatives_path: Path | None,
    threshold: float,
    out: TextIO = sys.stdout,
) -> int:
    qa = read_jsonl(qa_path)
    negatives = read_jsonl(negatives_path) if negatives_path else []
    all_misses: list[dict[str, Any]] = []
    header = f"{'mode':8s} {'n':>4s} {'hit@1':>6s} {'hit@5':>6s} {'hit@10':>6s} {'MRR@10':>7s} {'nDCG@10':>7s}"
    if negatives:
        header += f" {'refused':>8s}"
    out.write(header + "\n")
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for mode in modes:
            metrics, misses = evaluate_mode(http, kb, qa, mode, tokenizer)
            all_misses += misses
            line = (
                f"{mode:8s} {metrics.n:4d} {metrics.hit_at_1:6.3f} {metrics.hit_at_5:6.3f} "
                f"{metrics.hit_at_10:6.3f} {metrics.mrr_at_10:7.3f} {metrics.ndcg_at_10:7.3f}"
            )
            if negatives:
                line += f" {refusal_rate(http, kb, negatives, mode, threshold):8.3f}"
            out.write(line + "\n")
    if misses_csv is not None:
        with misses_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["mode", "question", "rank", "top_file", "top_text"])
            writer.writeheader()
            writer.writerows(all_misses)
        out.write(f"misses (no relevant chunk at rank 1): {misses_csv}\n")
    return 0
