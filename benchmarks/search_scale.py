"""Search latency and memory as a knowledge base grows: exact vs approximate (IVF), and recall.

For 10k, 100k and 1M chunks (synthetic vectors shaped like MiniLM embeddings, written as real
segments and loaded by `KBIndex.sync`), each index kind runs in its own child process, so the
memory figure is that process's growth (RSS, heap slack included) beside the bytes faiss itself
holds (vectors, ids, lists; not its id hash maps). Latency is one search as the API does it: the query
embedded by the int8 model, then the top 50 from the index (the hybrid candidate pool), for the
174 Python FAQ questions. Recall@10 compares the approximate top 10 with the exact one.

    .venv/bin/python -m benchmarks.search_scale [--quick] [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from benchmarks.synthetic import base_vectors, faq_texts, load_average, pct, rss_bytes, write_kb
from vectorstore import EmbeddingSettings, KBIndex, SegmentStore, build_embedder
from vectorstore.settings import VectorIndexSettings

POOL = 50
PER_FILE = 1000


def measure(root: str, cache: str, kb_id: int, files: int, kind: str) -> dict[str, Any]:
    """In a child: load the KB as `kind`, then time the FAQ questions."""
    embedder = build_embedder(EmbeddingSettings(vector_cache=False), cache_dir=Path(cache))
    _, questions = faq_texts()
    embedder.embed_query("warm up")
    limit = 1 if kind == "ivf" else 10**12
    settings = VectorIndexSettings(approximate_after=limit, background_build=False)
    before = rss_bytes()
    index = KBIndex(kb_id, embedder.dim, SegmentStore(Path(root)), settings)
    started = time.perf_counter()
    index.sync(1, {f: 1 for f in range(1, files + 1)})
    load_s = time.perf_counter() - started
    grown = rss_bytes() - before
    assert index.kind == kind
    stored = faiss.serialize_index(index._index).nbytes  # vectors, ids, lists; not the id hash maps
    latencies, tops = [], []
    for question in questions:
        started = time.perf_counter()
        hits = index.search(embedder.embed_query(question), POOL)
        latencies.append((time.perf_counter() - started) * 1000)
        tops.append([i for i, _ in hits[:10]])
    return {
        "load_s": load_s,
        "bytes_per_vector": grown / index.size,
        "index_bytes_per_vector": stored / index.size,
        "latencies": latencies,
        "tops": tops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse a built int8 model")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="kb-search-") as tmp:
        cache = args.cache_dir or Path(tmp) / "cache"
        embedder = build_embedder(EmbeddingSettings(vector_cache=False), cache_dir=cache)
        print(f"query embedder: {getattr(embedder, 'backend', '?')}; load average {load_average()}")
        bases = base_vectors(embedder)
        store = SegmentStore(Path(tmp) / "kbs")
        spawn = multiprocessing.get_context("spawn")
        print(
            f"{'chunks':>9} {'kind':6} {'load s':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'RSS B/v':>8} {'index B/v':>9} {'recall@10':>9}"
        )
        for kb_id, size in enumerate(sizes, start=1):
            write_kb(store, kb_id, bases, size, PER_FILE)
            files = -(-size // PER_FILE)
            results = {}
            for kind in ("exact", "ivf"):
                with spawn.Pool(1) as pool:
                    results[kind] = pool.apply(measure, (str(store.root), str(cache), kb_id, files, kind))
            exact_tops = results["exact"]["tops"]
            recall = np.mean(
                [len(set(a) & set(e)) / max(len(e), 1) for a, e in zip(results["ivf"]["tops"], exact_tops, strict=True)]
            )
            for kind, r in results.items():
                lat = r["latencies"]
                shown = f"{recall:9.3f}" if kind == "ivf" else f"{'-':>9}"
                print(
                    f"{size:9d} {kind:6} {r['load_s']:7.1f} {pct(lat, 0.5):7.1f} {pct(lat, 0.95):7.1f} "
                    f"{r['bytes_per_vector']:8.0f} {r['index_bytes_per_vector']:9.0f} {shown}",
                    flush=True,
                )
            default = "ivf" if size >= VectorIndexSettings().approximate_after else "exact"
            print(f"{'':9} default at this size: {default}", flush=True)
            for path in (store.root / str(kb_id)).rglob("*.faiss"):
                path.unlink()


if __name__ == "__main__":
    main()
