"""Chat speed, and what chat costs the rest of the API.

Starts a real server (`kb-server up`: embedded Redis, a worker, the API with `--preset`'s model)
in a temp dir, ingests one Python FAQ page, then prints:
  - time to first token and tokens/s of /api/chat (3 retrieved chunks), streamed;
  - p50/p95 of a file-status poll and of a 100 KB upload's 202, idle and while two chats generate,
    with their ratios (busy / idle), measured side by side in one run.

    .venv/bin/python -m benchmarks.chat_latency [--rounds 5] [--samples 60] [--preset smollm2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.harness import SHARED_DATA, Server, create_kb, upload_paths, wait_settled
from kb_server.cli.ask import iter_sse

QUESTIONS = [
    "How can I create a stand-alone binary from a Python script?",
    "Is there a source code level debugger with breakpoints?",
    "How do I share global variables across modules?",
    "Why are default values shared between objects?",
    "How do I copy an object in Python?",
]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="chats measured for TTFT and tokens/s")
    parser.add_argument("--samples", type=int, default=60, help="status polls per phase")
    parser.add_argument("--preset", default="qwen-coder-0.5b", help="llm.preset of the server (KB_LLM__PRESET)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        # Uploads during the measurement are parsed by the worker; keep it from competing for the
        # CPU more than a real one would (it runs niced by default).
        server = Server(
            Path(tmp),
            KB_LLM__PRESET=args.preset,
            KB_WORKER__NICE="10",
            KB_LLM__MAX_TOKENS="256",
            KB_LLM__QUEUE_TIMEOUT_S="120",
        )
        server.start()
        try:
            client = server.http
            create_kb(client, "bench")
            page = SHARED_DATA / "python-faq" / "html" / "programming.html"
            [entry] = upload_paths(client, "bench", [page])
            wait_settled(client, "bench", expected=1)
            url = server.base_url

            ttft, rates = [], []
            for q in (QUESTIONS * 3)[: args.rounds]:
                first, tokens, rest = stream_chat(url, "bench", q)
                ttft.append(first)
                rates.append(tokens / rest if rest > 0 else float("nan"))
            print(f"chat ({args.preset}, 3 chunks, {os.cpu_count()} cores), {args.rounds} streamed answers:")
            print(f"  time to first token: median {statistics.median(ttft):.2f} s, max {max(ttft):.2f} s")
            print(f"  generation: median {statistics.median(rates):.1f} tokens/s")

            payload = os.urandom(50 * 1024).hex().encode()  # ~100 KB of text
            http = httpx.Client(base_url=url, timeout=60)
            idle_polls, idle_uploads = latencies(http, "bench", entry["file_id"], args.samples, payload)

            stop = threading.Event()

            def chatter(offset: int) -> None:
                i = offset
                while not stop.is_set():
                    stream_chat(url, "bench", QUESTIONS[i % len(QUESTIONS)])
                    i += 1

            threads = [threading.Thread(target=chatter, args=(k,), daemon=True) for k in range(2)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            busy_polls, busy_uploads = latencies(http, "bench", entry["file_id"], args.samples, payload)
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
        finally:
            server.stop()


if __name__ == "__main__":
    main()
