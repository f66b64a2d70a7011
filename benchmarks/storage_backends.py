"""Storage backends side by side: bytes in the data dir vs in the catalog, both on PostgreSQL.

Each run is a real server (`kb-server up`: embedded Redis, a worker, the API) on a data dir and a
PostgreSQL database of its own, with `storage.backend: local` (uploads, vector segments and keyword
blocks as files) or `storage.backend: database` (the same objects as rows of the catalog). The
catalog is PostgreSQL on both sides, so only where the bytes live differs. Each run:

  - ingests the real files of ../shared/data: the 9 Python FAQ pages, the Debian Live manual in
    each of its book formats (HTML, DOCX, EPUB, ODT, PDF) and the three Node.js API pages, one KB
    per source; chunks/s end to end (HTTP upload of every file → every file `done`);
  - then starts fresh API processes beside it (`kb-server api` on the same data dir and database),
    one after another. In each, after one untimed search of an empty KB (the embedder's and the
    catalog's first call, the same on both sides), the first search of each KB is *cold*: it loads
    that KB's segments and keyword blocks from the store. Then every query of a fixed set (Python
    FAQ questions) on every KB is *warm*. Latency is the client's, over HTTP; "cold" is a cold
    process, not a cold disk: the operating system's page cache and PostgreSQL's buffers hold
    what was just written, on both sides.

Runs go in pairs, the order swapped from one pair to the next (local, database, database, local,
…), so a machine that gets busier or quieter over the run favours neither. Latencies of all runs
of a backend are pooled; the ratios are database / local.

    .venv/bin/python -m benchmarks.storage_backends [--quick] [--pairs 2] [--api-starts 3] [--queries 30]
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks import postgres
from benchmarks.harness import SHARED_DATA, Server, create_kb, upload_paths, wait_settled
from benchmarks.synthetic import faq_texts, load_average, pct

BACKENDS = ("local", "database")
ADMIN_URL = os.environ.get("BENCHMARK_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
# An empty database on the machine's PostgreSQL, as a SQLAlchemy URL; dropped afterwards.
temporary_database = functools.partial(postgres.temporary_database, ADMIN_URL, "kb_bench")
EMPTY_KB = "empty"  # searched first in each fresh API process, untimed


@dataclass
class Run:
    backend: str
    chunks: int = 0
    ingest_s: float = 0.0
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.ingest_s


def corpus(quick: bool = False) -> dict[str, list[Path]]:
    """The files of each KB: real documents from the shared data, one KB per source."""
    faq = sorted((SHARED_DATA / "python-faq" / "html").glob("*.html"))
    formats = SHARED_DATA / "formats"
    if quick:
        return {"faq": faq[:3], "nodejs": [formats / "nodejs-api-http.md"]}
    kbs = {"faq": faq, "nodejs": sorted(formats.glob("nodejs-api-*.md"))}
    for book in sorted(formats.glob("live-manual*")):
        kbs[f"manual-{book.suffix.lstrip('.')}"] = [book]
    return kbs


def queries(count: int) -> list[str]:
    """`count` Python FAQ questions spread over the whole set, always the same ones."""
    _, questions = faq_texts()
    step = max(1, len(questions) // count)
    return questions[::step][:count]


def pair_orders(pairs: int) -> list[str]:
    """The backends in run order: each pair swaps the order of the one before it."""
    order: list[str] = []
    for pair in range(pairs):
        order += BACKENDS if pair % 2 == 0 else BACKENDS[::-1]
    return order


def ingest(http: httpx.Client, sources: dict[str, list[Path]]) -> tuple[int, float]:
    """Chunks made and seconds from the first upload to every file of every KB done."""
    for kb in (EMPTY_KB, *sources):
        create_kb(http, kb)
    started = time.perf_counter()
    for kb, paths in sources.items():
        accepted = upload_paths(http, kb, paths)
        assert all(a["status"] == "queued" for a in accepted), accepted
    for kb, paths in sources.items():
        files = wait_settled(http, kb, expected=len(paths), timeout_s=3600)
        failed = [f["name"] for f in files if f["status"] != "done"]
        assert not failed, f"files of {kb} failed: {failed}"
    seconds = time.perf_counter() - started
    r = http.get("/api/kbs")
    assert r.status_code == 200, r.text
    return sum(int(kb["chunks"]) for kb in r.json()["kbs"]), seconds


def search_ms(http: httpx.Client, kb: str, query: str) -> float:
    started = time.perf_counter()
    r = http.post(f"/api/kbs/{kb}/search", json={"query": query, "top_k": 5})
    elapsed = (time.perf_counter() - started) * 1000
    assert r.status_code == 200, r.text
    return elapsed


def latencies(http: httpx.Client, kbs: list[str], asked: list[str]) -> tuple[list[float], list[float]]:
    """(cold, warm) milliseconds in an API process that has searched nothing yet."""
    search_ms(http, EMPTY_KB, asked[0])
    cold = [search_ms(http, kb, asked[i % len(asked)]) for i, kb in enumerate(kbs)]
    warm = [search_ms(http, kb, query) for query in asked for kb in kbs]
    return cold, warm


def server(root: Path, url: str, backend: str, command: str = "up", data_dir: Path | None = None) -> Server:
    """`up` (or one more `api` on that `up`'s data dir) on database `url` with `backend` storage.

    The worker runs at normal priority, as for the ingest_throughput figures; no chat model.
    """
    return Server(
        root,
        command=command,
        data_dir=data_dir,
        KB_DATABASE_URL=url,
        KB_STORAGE__BACKEND=backend,
        KB_WORKER__NICE="0",
        KB_LLM__BACKEND="none",
        KB_RECOVERY_ENABLED=str(command == "up").lower(),
    )


def measure(root: Path, backend: str, sources: dict[str, list[Path]], asked: list[str], api_starts: int) -> Run:
    """One run: ingest on a fresh server and database, then search in `api_starts` fresh API processes."""
    run = Run(backend)
    with temporary_database() as url, server(root / "stack", url, backend) as stack:
        run.chunks, run.ingest_s = ingest(stack.http, sources)
        for start in range(api_starts):
            with server(root / f"api-{start}", url, backend, "api", stack.data_dir) as fresh:
                cold, warm = latencies(fresh.http, list(sources), asked)
            run.cold_ms += cold
            run.warm_ms += warm
    return run


def pooled(runs: list[Run], backend: str) -> Run:
    """Every run of `backend` as one: chunks and seconds summed, latencies pooled."""
    mine = [r for r in runs if r.backend == backend]
    return Run(
        backend,
        chunks=sum(r.chunks for r in mine),
        ingest_s=sum(r.ingest_s for r in mine),
        cold_ms=[ms for r in mine for ms in r.cold_ms],
        warm_ms=[ms for r in mine for ms in r.warm_ms],
    )


def report(runs: list[Run]) -> str:
    """The table per backend, then the ratios database / local."""
    lines = [
        f"{'backend':9} {'runs':>4} {'chunks/s':>14} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}"
        f"  {'samples cold/warm':>17}",
    ]
    total = {b: pooled(runs, b) for b in BACKENDS}
    for backend, all_of in total.items():
        rates = [r.chunks_per_s for r in runs if r.backend == backend]
        spread = f"{min(rates):.1f}-{max(rates):.1f}" if len(rates) > 1 else ""
        lines.append(
            f"{backend:9} {len(rates):4d} {all_of.chunks_per_s:6.1f} {spread:>7} "
            f"{pct(all_of.cold_ms, 0.5):9.1f} {pct(all_of.cold_ms, 0.95):9.1f} "
            f"{pct(all_of.warm_ms, 0.5):9.1f} {pct(all_of.warm_ms, 0.95):9.1f}"
            f"  {len(all_of.cold_ms):>8}/{len(all_of.warm_ms)}"
        )
    local, database = total["local"], total["database"]
    per_pair = [
        d.chunks_per_s / loc.chunks_per_s
        for loc, d in zip(
            [r for r in runs if r.backend == "local"], [r for r in runs if r.backend == "database"], strict=True
        )
    ]
    lines += [
        "",
        "database / local (chunks/s: below 1 is slower; latency: above 1 is slower):",
        f"  chunks/s  {database.chunks_per_s / local.chunks_per_s:.2f}"
        f"  (per pair: {', '.join(f'{r:.2f}' for r in per_pair)}; median {statistics.median(per_pair):.2f})",
    ]
    for name, q in (("cold p50", 0.5), ("cold p95", 0.95)):
        lines.append(f"  {name}  {pct(database.cold_ms, q) / pct(local.cold_ms, q):.2f}")
    for name, q in (("warm p50", 0.5), ("warm p95", 0.95)):
        lines.append(f"  {name}  {pct(database.warm_ms, q) / pct(local.warm_ms, q):.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 small files, 1 pair, 1 API start, 5 queries")
    parser.add_argument("--pairs", type=int, default=2, help="runs per backend, in swapped order pair by pair")
    parser.add_argument("--api-starts", type=int, default=3, help="fresh API processes per run (cold searches)")
    parser.add_argument("--queries", type=int, default=30, help="FAQ questions asked of every KB (warm)")
    args = parser.parse_args()
    pairs, api_starts, count = (1, 1, 5) if args.quick else (args.pairs, args.api_starts, args.queries)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    sources = corpus(args.quick)
    asked = queries(count)
    size_kib = sum(p.stat().st_size for paths in sources.values() for p in paths) / 1024
    print(
        f"{sum(map(len, sources.values()))} files ({size_kib:.0f} KiB) in {len(sources)} KBs, {len(asked)} queries, "
        f"{pairs} pair(s) of runs, {api_starts} fresh API process(es) per run; {os.cpu_count()} cores, "
        f"load average {load_average()}",
        flush=True,
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="kb-storage-") as tmp:
        for k, backend in enumerate(pair_orders(pairs)):
            run = measure(Path(tmp) / f"run-{k}", backend, sources, asked, api_starts)
            runs.append(run)
            print(
                f"run {k + 1} {backend:8}: {run.chunks} chunks in {run.ingest_s:.1f} s ({run.chunks_per_s:.1f}/s); "
                f"cold p95 {pct(run.cold_ms, 0.95):.1f} ms, warm p95 {pct(run.warm_ms, 0.95):.1f} ms; "
                f"load average {load_average()}",
                flush=True,
            )
    print()
    print(report(runs))


if __name__ == "__main__":
    main()
