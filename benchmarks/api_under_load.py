"""What ingestion costs the rest of the API: upload 202 and status-poll latency, idle vs busy.

Starts a real server (`kb-server up`: embedded Redis, the worker with its default processes and
priority, the API) in a temp dir, then measures p50/p95 of a file-status poll and of a 100 KB
upload's 202:
  - idle: nothing but the measured requests (whose own small uploads get ingested meanwhile);
  - busy: while the worker ingests a backlog of corpus files (the ingest_throughput corpus), which
    keeps both cores saturated; the CPU share used during the phase is printed, and the phase
    only counts if the backlog was not drained before it ended.
Prints the ratios busy / idle and the issue's bounds (202 p95 <= 50 ms, poll p95 <= 20 ms).

    .venv/bin/python -m benchmarks.api_under_load [--files 400] [--samples 150]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.chat_latency import latencies, pct
from benchmarks.harness import Server, create_kb, list_files, upload_paths, wait_settled
from benchmarks.ingest_throughput import UPLOAD_BATCH, write_corpus
from kb_server.settings import WorkerSettings


def cpu_busy_share(before: list[int], after: list[int]) -> float:
    """Share of all cores' time spent not idle between two /proc/stat readings."""
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    idle = deltas[3] + deltas[4]  # idle + iowait
    return 1.0 - idle / max(1, sum(deltas))


def cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as stat:
        return [int(v) for v in stat.readline().split()[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=400, help="backlog that keeps the worker busy")
    parser.add_argument("--samples", type=int, default=150, help="status polls per phase (an upload every 3rd)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    worker = WorkerSettings()

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        root = Path(tmp)
        paths = write_corpus(root / "corpus", args.files)
        # The worker settings the report prints (the server inherits no KB_* from this shell).
        nice, processes = str(worker.nice), str(worker.concurrency)
        with Server(root / "server", KB_WORKER__NICE=nice, KB_WORKER__CONCURRENCY=processes) as server:
            client = server.http
            create_kb(client, "bench")
            create_kb(client, "backlog")
            [entry] = upload_paths(client, "bench", [paths[0]])
            wait_settled(client, "bench", expected=1)
            payload = os.urandom(50 * 1024).hex().encode()  # ~100 KB of text
            http = httpx.Client(base_url=server.base_url, timeout=60)
            latencies(http, "bench", entry["file_id"], 10, payload)  # warm up
            wait_settled(client, "bench")
            idle_polls, idle_uploads = latencies(http, "bench", entry["file_id"], args.samples, payload)

            for start in range(0, len(paths), UPLOAD_BATCH):
                upload_paths(client, "backlog", paths[start : start + UPLOAD_BATCH])
            time.sleep(3.0)  # the worker's processes pick up their first files
            cpu_before = cpu_times()
            busy_polls, busy_uploads = latencies(http, "bench", entry["file_id"], args.samples, payload)
            cpu = cpu_busy_share(cpu_before, cpu_times())
            left = sum(1 for f in list_files(client, "backlog") if f["status"] in ("queued", "processing"))

    print(
        f"API latency (ms), idle vs while {worker.concurrency} worker processes (nice {worker.nice}) ingest "
        f"{args.files} files on {os.cpu_count()} cores; CPU busy {cpu:.0%} during the busy phase, "
        f"{left} files still waiting at its end"
    )
    if left == 0:
        print("  warning: the backlog drained before the busy phase ended; raise --files")
    for name, idle, busy, bound in (
        ("status poll", idle_polls, busy_polls, 20.0),
        ("100 KB upload 202", idle_uploads, busy_uploads, 50.0),
    ):
        print(
            f"  {name:18s} idle p50 {pct(idle, 0.5):6.1f}  p95 {pct(idle, 0.95):6.1f} | "
            f"busy p50 {pct(busy, 0.5):6.1f}  p95 {pct(busy, 0.95):6.1f} | "
            f"p95 ratio {pct(busy, 0.95) / pct(idle, 0.95):.2f}x | bound {bound:.0f} ms: "
            f"{'met' if pct(busy, 0.95) <= bound else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
