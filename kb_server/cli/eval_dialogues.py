"""`kb-server eval --dialogues`: does the second turn of a dialogue retrieve as well as the first?

Each line of the file is a two-turn dialogue, `{"id", "turns": [{"question", "file", "heading"},
{...}]}`: the second question leans on the first ("and on Windows?"). A turn's reference answer is
its `answer`, or the one `--reference` (a `{"question", "answer", "file"}` JSON-lines file such as
the shared FAQ's `qa.jsonl`) holds for its file and heading. A retrieved chunk is relevant when it
overlaps that answer, as with `--qa`.

The first turn is searched, then answered in quote mode (instant, no model) to make the history
the second turn follows. The second turn is searched as typed, then as `POST /api/chat/standalone`
rewrites it with the key terms of the first question, then with the LLM (which falls back to the
key terms when it cannot; the table counts how often the LLM's own rewrite was used).
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from kb_server.cli.eval import read_jsonl
from kb_server.services.evaluation import is_relevant, rank_metrics

RUNS = ("turn 1", "turn 2 as typed", "turn 2 keywords", "turn 2 llm")
CSV_FIELDS = ["id", "run", "question", "searched_for", "method", "rank", "top_file", "top_text"]


@dataclass
class Run:
    relevance: list[list[bool]] = field(default_factory=list)
    by_llm: int = 0
    seconds: list[float] = field(default_factory=list)  # of the rewrite requests


def load_dialogues(path: Path, reference: Path | None) -> list[dict[str, Any]]:
    """The dialogues with every turn's reference answer filled in.

    Raises:
        ValueError: a turn has no answer and the reference holds none for its file and heading.
    """
    answers: dict[tuple[str, str], str] = {}
    if reference is not None:
        answers = {(q.get("file", ""), q["question"]): q["answer"] for q in read_jsonl(reference)}
    dialogues = read_jsonl(path)
    for d in dialogues:
        for turn in d["turns"]:
            if "answer" not in turn:
                key = (turn.get("file", ""), turn.get("heading", ""))
                if key not in answers:
                    raise ValueError(f"dialogue {d.get('id')}: no reference answer for {key} (--reference?)")
                turn["answer"] = answers[key]
    return dialogues


def _search(http: httpx.Client, kb: str, query: str, context: str | None) -> list[dict[str, Any]]:
    r = http.post(f"/api/kbs/{kb}/search", json={"query": query, "context": context, "top_k": 10})
    r.raise_for_status()
    return list(r.json()["results"])


def _reply(http: httpx.Client, kb: str, question: str) -> str:
    r = http.post("/api/chat", json={"kb": kb, "question": question, "mode": "quote"})
    r.raise_for_status()
    return str(r.json()["answer"])


def _standalone(http: httpx.Client, question: str, history: list[dict[str, str]], method: str) -> dict[str, Any]:
    r = http.post("/api/chat/standalone", json={"question": question, "history": history, "method": method})
    r.raise_for_status()
    return dict(r.json())


def run_dialogue_eval(
    base_url: str,
    kb: str,
    path: Path,
    reference: Path | None,
    limit: int | None = None,
    csv_path: Path | None = None,
    out: TextIO = sys.stdout,
) -> int:
    try:
        dialogues = load_dialogues(path, reference)[:limit]
    except (ValueError, KeyError) as exc:
        print(f"kb-server: {path}: {exc}", file=sys.stderr)
        return 2
    runs = {name: Run() for name in RUNS}
    rows: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=base_url, timeout=300) as http:
            for d in dialogues:
                first, second = d["turns"][0], d["turns"][1]
                asked: list[tuple[str, str, dict[str, Any]]] = [("turn 1", first["question"], {})]
                history = [
                    {"role": "user", "content": first["question"]},
                    {"role": "assistant", "content": _reply(http, kb, first["question"])},
                ]
                asked.append(("turn 2 as typed", second["question"], {}))
                for method in ("keywords", "llm"):
                    started = time.monotonic()
                    found = _standalone(http, second["question"], history, method)
                    runs[f"turn 2 {method}"].seconds.append(time.monotonic() - started)
                    asked.append((f"turn 2 {method}", found["query"], found))
                for run, query, found in asked:
                    turn = first if run == "turn 1" else second
                    results = _search(http, kb, query, found.get("context"))
                    flags = [is_relevant(h["text"], turn["answer"]) for h in results]
                    runs[run].relevance.append(flags)
                    runs[run].by_llm += found.get("method") == "llm"
                    rows.append(
                        {
                            "id": d.get("id", ""),
                            "run": run,
                            "question": turn["question"],
                            "searched_for": found.get("searched_for") or "",
                            "method": found.get("method") or "",
                            "rank": next((i + 1 for i, f in enumerate(flags) if f), ""),
                            "top_file": results[0]["file_name"] if results else "",
                            "top_text": " ".join(results[0]["text"].split())[:200] if results else "",
                        }
                    )
    except httpx.HTTPError as exc:
        print(f"kb-server: {base_url}: {exc}", file=sys.stderr)
        return 1
    out.write(f"{'run':16s} {'n':>4s} {'hit@1':>6s} {'hit@5':>6s} {'MRR@10':>7s} {'rewrite p50':>11s}  by the LLM\n")
    for name, result in runs.items():
        m = rank_metrics(result.relevance)
        p50 = f"{statistics.median(result.seconds):10.2f}s" if result.seconds else ""
        note = f"{result.by_llm}/{m.n} (the rest: key terms)" if name == "turn 2 llm" else ""
        out.write(f"{name:16s} {m.n:4d} {m.hit_at_1:6.3f} {m.hit_at_5:6.3f} {m.mrr_at_10:7.3f} {p50:>11s}  {note}\n")
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        out.write(f"one row per dialogue and run: {csv_path}\n")
    return 0
