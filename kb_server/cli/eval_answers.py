"""`kb-server eval --answers`: the quality of a running server's chat answers over a QA file.

Questions are asked one at a time through `/api/chat` with `stream: true`. Time to first token runs
from sending the request to the first `token` event; the `done` event is the answer judged (see
kb_server.services.answer_eval). Off-topic questions (`--off-topic`, one `{"question"}` per line)
measure refusals. A question the server fails on is recorded with its error and the run goes on;
only such errors make the exit code non-zero, never low scores.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

from kb_server.cli.ask import iter_sse
from kb_server.cli.eval import read_jsonl
from kb_server.services.answer_eval import AnswerRecord, Kind, assess, failed, format_table, summarise

CSV_COLUMNS = [f.name for f in dataclasses.fields(AnswerRecord)]


class AnswerFailed(Exception):
    """The server answered an error, or the stream ended without a `done` event."""


@dataclasses.dataclass
class Streamed:
    done: dict[str, Any]
    ttft_s: float | None
    total_s: float
    tokens: int


def ask_streamed(
    http: httpx.Client, kb: str, question: str, mode: str | None = None, threshold: float | None = None
) -> Streamed:
    body: dict[str, Any] = {"kb": kb, "question": question, "stream": True}
    if mode:
        body["mode"] = mode
    if threshold is not None:
        body["score_threshold"] = threshold
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    done: dict[str, Any] | None = None
    with http.stream("POST", "/api/chat", json=body) as response:
        if response.status_code != 200:
            response.read()
            try:
                error = response.json()
                raise AnswerFailed(f"{error.get('code', response.status_code)}: {error.get('detail', '')}")
            except ValueError:
                raise AnswerFailed(f"HTTP {response.status_code}: {response.text[:200]}") from None
        for event, data in iter_sse(response.iter_lines()):
            if event == "token":
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
            elif event == "done":
                done = data
            elif event == "error":
                raise AnswerFailed(f"{data.get('code')}: {data.get('detail')}")
    if done is None:
        raise AnswerFailed("the stream ended without a done event")
    return Streamed(done, first, time.perf_counter() - started, tokens)


def evaluate_answers(
    http: httpx.Client,
    kb: str,
    items: list[dict[str, Any]],
    kind: Kind,
    mode: str | None = None,
    threshold: float | None = None,
    progress: TextIO | None = None,
) -> list[AnswerRecord]:
    """One record per item (`{"question", "answer"?}`); an unreachable server raises httpx.ConnectError."""
    records = []
    for i, item in enumerate(items, start=1):
        question, reference = item["question"], item.get("answer") if kind == "qa" else None
        started = time.perf_counter()
        try:
            s = ask_streamed(http, kb, question, mode, threshold)
        except httpx.ConnectError:
            raise
        except (AnswerFailed, httpx.HTTPError) as exc:
            records.append(
                failed(question, reference, kind, str(exc) or type(exc).__name__, time.perf_counter() - started)
            )
        else:
            records.append(
                assess(
                    s.done,
                    question,
                    reference,
                    kind=kind,
                    ttft_s=s.ttft_s,
                    total_s=s.total_s,
                    tokens=s.tokens,
                    mode=mode,
                )
            )
        if progress is not None:
            progress.write(f"\r{kind} {i}/{len(items)}")
            progress.flush()
    if progress is not None and items:
        progress.write("\n")
    return records


def write_csv(path: Path, records: list[AnswerRecord]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for record in records:
            row = dataclasses.asdict(record)
            for key in ("ttft_s", "total_s"):
                if row[key] is not None:
                    row[key] = round(row[key], 3)
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def run_answer_eval(
    base_url: str,
    kb: str,
    qa_path: Path,
    offtopic_path: Path | None,
    *,
    mode: str | None = None,
    limit: int | None = None,
    csv_path: Path | None = None,
    threshold: float | None = None,
    out: TextIO = sys.stdout,
) -> int:
    qa = read_jsonl(qa_path)[:limit]
    offtopic = read_jsonl(offtopic_path)[:limit] if offtopic_path else []
    progress = sys.stderr if sys.stderr.isatty() else None
    try:
        with httpx.Client(base_url=base_url, timeout=300) as http:
            records = evaluate_answers(http, kb, qa, "qa", mode, threshold, progress)
            records += evaluate_answers(http, kb, offtopic, "offtopic", mode, threshold, progress)
    except httpx.ConnectError as exc:
        print(f"kb-server: cannot reach {base_url}: {exc}", file=sys.stderr)
        return 1
    modes = sorted({r.mode for r in records if r.mode})
    out.write(format_table([("/".join(modes) or "chat", summarise(records))]))
    if csv_path is not None:
        write_csv(csv_path, records)
        out.write(f"per-question results: {csv_path}\n")
    errors = [r for r in records if r.error]
    for r in errors[:5]:
        print(f"kb-server: {r.kind} question {r.question!r}: {r.error}", file=sys.stderr)
    return 1 if errors else 0
