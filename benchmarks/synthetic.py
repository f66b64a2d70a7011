"""Shared by the benchmarks: synthetic knowledge bases shaped like real embeddings, and timing helpers.

Random Gaussian vectors in 384-d are all nearly orthogonal, unlike embeddings (and the worst case
for any approximate index). Here each vector is a random mixture of three real MiniLM vectors of
Python FAQ text plus isotropic noise: nearest neighbours sit at cosine ~0.4-0.5, a harder spread
than real chunk embeddings (~0.6-0.8), so recall figures err on the low side.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from benchmarks.harness import SHARED_DATA
from vectorstore import Embedder, Segment, SegmentStore
from vectorstore.ids import chunk_id


def faq_texts() -> tuple[list[str], list[str]]:
    """(answers, questions) of the Python FAQ reference set."""
    rows = [json.loads(line) for line in (SHARED_DATA / "python-faq" / "qa.jsonl").read_text().splitlines()]
    return [r["answer"][:1500] for r in rows], [r["question"] for r in rows]


def base_vectors(embedder: Embedder) -> np.ndarray:
    answers, questions = faq_texts()
    return embedder.embed_documents(answers + questions)


def clustered(bases: np.ndarray, n: int, seed: int, noise: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, bases.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):  # bounded temporaries at 1M
        m = min(100_000, n - start)
        weights = rng.dirichlet([1.0, 1.0, 1.0], m).astype(np.float32)
        rows = np.einsum("nk,nkd->nd", weights, bases[rng.integers(0, len(bases), (m, 3))])
        rows += rng.standard_normal(rows.shape, dtype=np.float32) * np.float32(noise / np.sqrt(bases.shape[1]))
        out[start : start + m] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def write_kb(
    store: SegmentStore, kb_id: int, bases: np.ndarray, n: int, per_file: int, first_file: int = 1
) -> dict[int, int]:
    """Write `n` synthetic vectors as segments of `per_file`; returns {file_id: generation}."""
    generations = {}
    for k, start in enumerate(range(0, n, per_file)):
        file_id = first_file + k
        m = min(per_file, n - start)
        ids = np.array([chunk_id(file_id, i) for i in range(m)], dtype=np.int64)
        store.write(kb_id, file_id, 1, Segment(ids=ids, vectors=clustered(bases, m, seed=kb_id * 1_000_003 + file_id)))
        generations[file_id] = 1
    return generations


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
