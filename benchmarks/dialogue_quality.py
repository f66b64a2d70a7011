"""Follow-up questions on a real `kb-server up`: hit@k of the second turn as typed and rewritten.

One server (the shipped settings: MiniLM, hybrid search, the `qwen-coder-0.5b` chat model unless
`--preset`) ingests the English Python FAQ (faq-en, 9 HTML pages) and its Chinese translation
(faq-zh, 8 Markdown pages), then `kb-server eval --dialogues` runs the two-turn dialogues of
`tests/fixtures/dialogues/` against each, their reference answers joined from the shared `qa.jsonl`:
turn 1, turn 2 as typed, turn 2 with the first question's key terms, turn 2 rewritten by the LLM.

    .venv/bin/python -m benchmarks.dialogue_quality [--languages en,zh] [--limit N] [--csv-dir DIR]
        [--rewrite-timeout S]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.harness import REPO, SHARED_DATA, Server, create_kb, upload_paths, wait_settled
from kb_server.cli.eval_dialogues import run_dialogue_eval

DIALOGUES = REPO / "tests" / "fixtures" / "dialogues"
LANGUAGES = {"en": ("faq-en", "python-faq", "html", "*.html"), "zh": ("faq-zh", "python-faq-zh", "md", "*.md")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="en,zh")
    parser.add_argument("--preset", default="qwen-coder-0.5b", help="llm.preset of the server")
    parser.add_argument("--limit", type=int, help="only the first N dialogues of each language")
    parser.add_argument(
        "--rewrite-timeout",
        type=float,
        help="chat.rewrite_timeout_s of the server (default the shipped 8 s; raise it to measure the model's "
        "rewrites apart from a busy machine's time-outs)",
    )
    parser.add_argument("--csv-dir", type=Path, help="write dialogues-<language>.csv here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-dialogues-") as tmp:
        env = {"KB_LLM__PRESET": args.preset, "KB_LLM__QUEUE_TIMEOUT_S": "600", "KB_WORKER__NICE": "10"}
        if args.rewrite_timeout:
            env["KB_CHAT__REWRITE_TIMEOUT_S"] = str(args.rewrite_timeout)
        with Server(Path(tmp), **env) as server:
            for language in args.languages.split(","):
                kb, folder, sub, pattern = LANGUAGES[language]
                pages = sorted((SHARED_DATA / folder / sub).glob(pattern))
                create_kb(server.http, kb)
                upload_paths(server.http, kb, pages)
                files = wait_settled(server.http, kb, expected=len(pages), timeout_s=900)
                assert all(f["status"] == "done" for f in files), files
            for language in args.languages.split(","):
                kb, folder, _, _ = LANGUAGES[language]
                print(f"\n{language}: {DIALOGUES / f'{language}.jsonl'} on {kb} (llm.preset {args.preset})")
                csv_path = args.csv_dir / f"dialogues-{language}.csv" if args.csv_dir else None
                run_dialogue_eval(
                    server.base_url,
                    kb,
                    DIALOGUES / f"{language}.jsonl",
                    SHARED_DATA / folder / "qa.jsonl",
                    limit=args.limit,
                    csv_path=csv_path,
                )


if __name__ == "__main__":
    main()
