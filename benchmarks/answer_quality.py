"""Answer quality per model preset: `kb-server eval --answers` on the Python FAQ, English and Chinese.

Starts a real server (`kb-server up`) in a temp dir, ingests the 9 English FAQ pages into one KB and
the 8 Chinese ones into another, then for each preset (passed as `KB_LLM__PRESET`, the server
restarted on the same data) asks every question of the English (174) and Chinese (142) QA sets
and their off-topic sets through streamed /api/chat, and prints one row per preset and language.
The off-topic sets are the fixtures of the retrieval and answer tests (data, not test code).

    .venv/bin/python -m benchmarks.answer_quality [--presets qwen-coder-0.5b,smollm2] [--limit 5]
        [--languages en,zh] [--every K] [--mode generate|quote] [--csv-dir DIR]
        [--setting chat.passage_tokens=300 ...] [--with chat.top_k=4 ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.harness import REPO, SHARED_DATA, Server, create_kb, upload_paths, variants, wait_settled
from benchmarks.synthetic import load_average
from kb_server.cli.eval import read_jsonl
from kb_server.cli.eval_answers import evaluate_answers, write_csv
from kb_server.services.answer_eval import Summary, format_table, summarise

FIXTURES = REPO / "tests" / "fixtures"


@dataclass(frozen=True)
class Language:
    kb: str
    pages: list[Path]
    qa: Path
    offtopic: Path


def languages() -> dict[str, Language]:
    return {
        "en": Language(
            "faq-en",
            sorted((SHARED_DATA / "python-faq" / "html").glob("*.html")),
            SHARED_DATA / "python-faq" / "qa.jsonl",
            FIXTURES / "offtopic_questions.jsonl",
        ),
        "zh": Language(
            "faq-zh",
            sorted((SHARED_DATA / "python-faq-zh" / "md").glob("*.md")),
            SHARED_DATA / "python-faq-zh" / "qa.jsonl",
            FIXTURES / "answers" / "offtopic_zh.jsonl",
        ),
    }


def ensure_kb(http: httpx.Client, lang: Language) -> None:
    """Create and ingest the KB unless an earlier preset's run already did (the data dir is kept)."""
    if http.get(f"/api/kbs/{lang.kb}").status_code == 200:
        return
    create_kb(http, lang.kb)
    upload_paths(http, lang.kb, lang.pages)
    files = wait_settled(http, lang.kb, expected=len(lang.pages), timeout_s=900)
    failed = [(f["name"], f["error"]) for f in files if f["status"] != "done"]
    assert not failed, failed


def run_preset(
    root: Path,
    label: str,
    env: dict[str, str],
    langs: dict[str, Language],
    limit: int | None,
    mode: str | None,
    csv_dir: Path | None,
    every: int = 1,
) -> list[tuple[str, Summary]]:
    server = Server(root, KB_LLM__QUEUE_TIMEOUT_S="600", KB_WORKER__NICE="10")
    server.env.update(env)
    server.start(timeout_s=900)  # a first start may assemble and verify a model file
    rows = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=600) as http:
            for code, lang in langs.items():
                ensure_kb(http, lang)
                started = time.perf_counter()
                questions = read_jsonl(lang.qa)[::every][:limit]
                records = evaluate_answers(http, lang.kb, questions, "qa", mode)
                records += evaluate_answers(http, lang.kb, read_jsonl(lang.offtopic)[:limit], "offtopic", mode)
                rows.append((f"{label} {code}", summarise(records)))
                print(format_table(rows[-1:]), end="", flush=True)
                print(f"  ({time.perf_counter() - started:.0f} s, load average {load_average()})", flush=True)
                if csv_dir is not None:
                    write_csv(csv_dir / f"{label.replace(' ', '_')}-{code}.csv", records)
    finally:
        server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="qwen-coder-0.5b,qwen-coder-1.5b,smollm2", help="comma-separated")
    parser.add_argument("--languages", default="en,zh", help="comma-separated: en, zh")
    parser.add_argument("--limit", type=int, help="only the first N questions of each QA and off-topic file")
    parser.add_argument(
        "--every", type=int, default=1, help="every K-th QA question (a sample spread over all pages; off-topic: all)"
    )
    parser.add_argument("--mode", choices=["generate", "quote"], help="chat mode (default: the server's chat.mode)")
    parser.add_argument("--csv-dir", type=Path, help="write <run>-<language>.csv per run here")
    parser.add_argument(
        "--setting", action="append", default=[], help="also run each preset with section.key=value (repeatable)"
    )
    parser.add_argument(
        "--with", dest="always", action="append", default=[], help="section.key=value for every run (repeatable)"
    )
    args = parser.parse_args()
    available = languages()
    langs = {code: available[code] for code in args.languages.split(",")}
    if args.csv_dir is not None:
        args.csv_dir.mkdir(parents=True, exist_ok=True)

    print(
        f"{os.cpu_count()} cores, load average {load_average()}, every {args.every}, limit {args.limit or 'none'}",
        flush=True,
    )
    rows: list[tuple[str, Summary]] = []
    with tempfile.TemporaryDirectory(prefix="kb-answers-") as tmp:
        for label, env in variants(args.presets, args.setting, args.always):
            rows += run_preset(Path(tmp), label, env, langs, args.limit, args.mode, args.csv_dir, args.every)
    print("\nall runs (TTFT and s/ans in seconds; see the answer evaluator's README for the columns):")
    print(format_table(rows), end="")


if __name__ == "__main__":
    main()
