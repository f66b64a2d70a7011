"""Does the int8 ONNX embedder retrieve as well as torch fp32? The Python FAQ, dense search only.

The 9 FAQ pages chunked as kb-server chunks them, the 174 reference questions, and for each
backend: cosine of its chunk vectors with fp32's, hit@k and MRR@10 of plain dense search (a
chunk is relevant when it overlaps the reference answer, as in `kb-server eval`), and the
encode rate over the same chunks, measured back to back.

    .venv/bin/python -m benchmarks.int8_quality [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import SHARED_DATA
from benchmarks.synthetic import load_average
from ingestion.chunking import chunk_elements
from ingestion.parsing import parse_document
from kb_server.services.evaluation import is_relevant, rank_metrics
from vectorstore import Embedder, EmbeddingSettings, build_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse a built int8 model")
    args = parser.parse_args()
    chunks: list[str] = []
    for page in sorted((SHARED_DATA / "python-faq" / "html").glob("*.html")):
        chunks += [d.text for d in chunk_elements(parse_document(page, ".html"), 750, 150)]
    qa = [json.loads(line) for line in (SHARED_DATA / "python-faq" / "qa.jsonl").read_text().splitlines()]

    with tempfile.TemporaryDirectory(prefix="kb-int8-") as tmp:
        cache = args.cache_dir or Path(tmp)
        models: dict[str, Embedder] = {
            "torch fp32": build_embedder(EmbeddingSettings(backend="torch", vector_cache=False)),
            "onnx int8": build_embedder(EmbeddingSettings(backend="onnx-int8", vector_cache=False), cache_dir=cache),
        }
        print(f"{len(chunks)} chunks, {len(qa)} questions; load average {load_average()}")
        vectors, rates = {}, {}
        for name, model in models.items():
            model.embed_documents(chunks[:16])
            started = time.perf_counter()
            vectors[name] = model.embed_documents(chunks)
            rates[name] = len(chunks) / (time.perf_counter() - started)
        print(f"{'backend':12} {'chunks/s':>8} {'cos mean':>8} {'cos min':>8} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}")
        for name, model in models.items():
            queries = np.vstack([model.embed_query(q["question"]) for q in qa])
            ranked = np.argsort(-(queries @ vectors[name].T), axis=1)[:, :10]
            metrics = rank_metrics(
                [[is_relevant(chunks[j], q["answer"]) for j in row] for row, q in zip(ranked, qa, strict=True)]
            )
            cos = np.sum(vectors[name] * vectors["torch fp32"], axis=1)
            print(
                f"{name:12} {rates[name]:8.1f} {cos.mean():8.4f} {cos.min():8.4f} "
                f"{metrics.hit_at_1:6.3f} {metrics.hit_at_5:6.3f} {metrics.mrr_at_10:7.4f}"
            )


if __name__ == "__main__":
    main()
