"""Chat speed per model preset, and what chat costs the rest of the API.

Starts a real server (`kb-server up`: embedded Redis, a worker, the API) in a temp dir, ingests one
English and one Chinese Python FAQ page, then for each preset (`KB_LLM__PRESET`, the server
restarted on the same data) streams English and Chinese questions through /api/chat and prints
time to first token and tokens/s side by side, with ratios against the last run (SmolLM2 by
default; `--setting` adds a run per preset with that setting changed). Then, with the first run:
p50/p95 of a file-status poll and of a 100 KB upload's 202, idle and while two chats generate, with
their ratios (busy / idle), measured in one run.

    .venv/bin/python -m benchmarks.chat_latency [--presets qwen-coder-0.5b,smollm2] [--rounds 6]
        [--samples 60] [--setting chat.passage_tokens=300 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import SHARED_DATA, Server, create_kb, upload_paths, variants, wait_settled
from kb_server.cli.ask import iter_sse

QUESTIONS = [
    "How can I create a stand-alone binary from a Python script?",
    "Is there a source code level debugger with breakpoints?",
    "How do I share global variables across modules?",
    "Why are default values shared between objects?",
    "How do I copy an object in Python?",
]
QUESTIONS_ZH = [
    "怎样把 Python 脚本打包成独立的可执行文件？",
    "有没有可以设断点的源码级调试器？",
    "怎样在多个模块之间共享全局变量？",
    "为什么默认参数的值会在对象之间共享？",
    "Python 里怎么复制一个对象？",
]
PAGES = {"en": "python-faq/html/programming.html", "zh": "python-faq-zh/md/programming.md"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stream_chat(url: str, kb: str, question: str) -> tuple[float, int, float]:
    """(seconds to first token, tokens, seconds from first token to the end)."""
    started = time.perf_counter()
    first = None
    tokens = 0
    body = {"kb": kb, "question": question, "stream": True, "top_k": 3, "score_threshold": 0.0}
    with httpx.stream("POST", f"{url}/api/chat", json=body, timeout=300) as r:
        r.raise_for_status()
        for event, _ in iter_sse(r.iter_lines()):
            if event == "token":
                tokens += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None, "no token streamed"
    return first - started, tokens, end - first


def latencies(
    http: httpx.Client, kb: str, file_id: int, samples: int, payload: bytes
) -> tuple[list[float], list[float]]:
    polls, uploads = [], []
    for i in range(samples):
        t = time.perf_counter()
        assert http.get(f"/api/kbs/{kb}/files/{file_id}").status_code == 200
        polls.append((time.perf_counter() - t) * 1000)
        if i % 3 == 0:
            body = payload + f"\nsample {time.time_ns()}\n".encode()
            t = time.perf_counter()
            r = http.post(f"/api/kbs/{kb}/files", files=[("files", (f"load-{i}.txt", body))])
            uploads.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 202, r.text
        time.sleep(0.02)
    return polls, uploads


@dataclass
class Speed:
    ttft: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


def measure(url: str, rounds: int) -> dict[str, Speed]:
    """TTFT and tokens/s per language; one unmeasured question first (model warm, page cache hot)."""
    stream_chat(url, "bench-en", QUESTIONS[-1])
    speeds = {"en": Speed(), "zh": Speed()}
    for i in range(rounds):
        for lang, kb, questions in (("en", "bench-en", QUESTIONS), ("zh", "bench-zh", QUESTIONS_ZH)):
            first, tokens, rest = stream_chat(url, kb, questions[i % len(questions)])
            speeds[lang].ttft.append(first)
            speeds[lang].rates.append(tokens / rest if rest > 0 else float("nan"))
    return speeds


def api_under_chat(url: str, file_id: int, samples: int) -> None:
    payload = os.urandom(50 * 1024).hex().encode()  # ~100 KB of text
    http = httpx.Client(base_url=url, timeout=60)
    idle_polls, idle_uploads = latencies(http, "bench-en", file_id, samples, payload)
    stop = threading.Event()

    def chatter(offset: int) -> None:
        i = offset
        while not stop.is_set():
            stream_chat(url, "bench-en", QUESTIONS[i % len(QUESTIONS)])
            i += 1

    threads = [threading.Thread(target=chatter, args=(k,), daemon=True) for k in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    busy_polls, busy_uploads = latencies(http, "bench-en", file_id, samples, payload)
    stop.set()
    for t in threads:
        t.join(timeout=300)
    print("API latency, idle vs while two chats generate (ms):")
    for name, idle, busy in (
        ("status poll", idle_polls, busy_polls),
        ("100 KB upload 202", idle_uploads, busy_uploads),
    ):
        print(
            f"  {name:18s} idle p50 {pct(idle, 0.5):6.1f}  p95 {pct(idle, 0.95):6.1f} | "
            f"busy p50 {pct(busy, 0.5):6.1f}  p95 {pct(busy, 0.95):6.1f} | "
            f"p95 ratio {pct(busy, 0.95) / pct(idle, 0.95):.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="qwen-coder-0.5b,smollm2", help="comma-separated llm.preset values")
    parser.add_argument("--rounds", type=int, default=6, help="streamed chats per language and preset")
    parser.add_argument("--samples", type=int, default=60, help="status polls per phase")
    parser.add_argument(
        "--setting", action="append", default=[], help="also run each preset with section.key=value (repeatable)"
    )
    args = parser.parse_args()
    runs = variants(args.presets, args.setting)

    results: dict[str, dict[str, Speed]] = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        entry: dict[str, Any] = {}
        for i, (label, env) in enumerate(runs):
            # Uploads during the measurement are parsed by the worker; keep it from competing for the
            # CPU more than a real one would (it runs niced by default).
            server = Server(
                Path(tmp),
                KB_WORKER__NICE="10",
                KB_LLM__MAX_TOKENS="256",
                KB_LLM__QUEUE_TIMEOUT_S="120",
            )
            server.env.update(env)
            server.start()
            try:
                if i == 0:
                    for lang, page in PAGES.items():
                        create_kb(server.http, f"bench-{lang}")
                        [entry[lang]] = upload_paths(server.http, f"bench-{lang}", [SHARED_DATA / page])
                        wait_settled(server.http, f"bench-{lang}", expected=1)
                results[label] = measure(server.base_url, args.rounds)
                if i == 0:
                    api_under_chat(server.base_url, entry["en"]["file_id"], args.samples)
            finally:
                server.stop()

    base = runs[-1][0]
    print(
        f"chat speed per preset ({os.cpu_count()} cores, streamed, {args.rounds} questions per language; "
        f"ratios against {base}):"
    )
    header = ("TTFT p50", "TTFT max", "tokens/s", "TTFT ×", "tok/s ×")
    print(f"  {'run':30s} {'lang':4s} " + " ".join(f"{h:>9s}" for h in header))
    for label, speeds in results.items():
        for lang, speed in speeds.items():
            ref = results[base][lang]
            ttft, rate = statistics.median(speed.ttft), statistics.median(speed.rates)
            print(
                f"  {label:30s} {lang:4s} {ttft:8.2f}s {max(speed.ttft):8.2f}s {rate:9.1f} "
                f"{ttft / statistics.median(ref.ttft):6.2f}x {rate / statistics.median(ref.rates):7.2f}x"
            )


if __name__ == "__main__":
    main()
