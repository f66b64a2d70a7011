"""The vector cache: a chunk text is embedded once per model, across calls, processes and KBs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from vectorstore import Embedder
from vectorstore.vector_cache import CachedEmbedder, VectorCache, text_key

DIM = 8


class CountingEmbedder:
    """Deterministic vectors from the text, counting every text it is asked to embed."""

    name = "counting"
    identity = "counting|fake"
    dim = DIM
    backend = "fake"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        rows = [np.random.default_rng(int.from_bytes(text_key(t)[:8], "little")).standard_normal(DIM) for t in texts]
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True) if len(texts) else out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def cached(path: Path, inner: CountingEmbedder | None = None, max_entries: int = 1000) -> CachedEmbedder:
    return CachedEmbedder(inner or CountingEmbedder(), VectorCache(path, DIM, max_entries))


@pytest.mark.unit
def test_a_text_is_embedded_once_and_read_back_identical(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    embedder = cached(tmp_path / "v.sqlite3", inner)
    texts = ["alpha", "beta", "gamma"]

    first = embedder.embed_documents(texts)
    second = embedder.embed_documents(["gamma", "alpha", "delta"])

    assert inner.embedded == ["alpha", "beta", "gamma", "delta"]
    np.testing.assert_array_equal(second[0], first[2])
    np.testing.assert_array_equal(second[1], first[0])
    np.testing.assert_array_equal(second[2], inner.embed_documents(["delta"])[0])
    assert (embedder.hits, embedder.misses) == (2, 4)


@pytest.mark.unit
def test_repeats_within_one_batch_are_embedded_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    vectors = cached(tmp_path / "v.sqlite3", inner).embed_documents(["same", "other", "same", "same"])

    assert inner.embedded == ["same", "other"]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])
    assert vectors.shape == (4, DIM)
    assert vectors.dtype == np.float32


@pytest.mark.unit
def test_the_cache_outlives_the_process_that_filled_it(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    expected = cached(path).embed_documents(["kept across restarts"])
    later = CountingEmbedder()

    again = cached(path, later).embed_documents(["kept across restarts"])

    assert later.embedded == []
    np.testing.assert_array_equal(again, expected)


@pytest.mark.unit
def test_queries_bypass_the_cache(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    embedder = cached(tmp_path / "v.sqlite3", inner)
    embedder.embed_query("q")
    embedder.embed_query("q")

    assert inner.embedded == ["q", "q"]
    assert embedder.embed_documents([]).shape == (0, DIM)


@pytest.mark.unit
def test_the_oldest_entries_go_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    embedder = cached(path, max_entries=1000)
    embedder.embed_documents([f"text {i}" for i in range(1500)])

    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM vectors").fetchone()
    assert count == 1000
    inner = CountingEmbedder()
    cached(path, inner).embed_documents(["text 0", "text 1499"])
    assert inner.embedded == ["text 0"]


@pytest.mark.unit
def test_a_broken_cache_file_is_bypassed_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    inner = CountingEmbedder()
    embedder = cached(path, inner)
    embedder.cache._db.execute("DROP TABLE vectors")  # what a damaged file looks like to SQLite

    vectors = embedder.embed_documents(["still embedded"])

    assert inner.embedded == ["still embedded"]
    assert vectors.shape == (1, DIM)


@pytest.mark.integration
def test_the_real_model_is_not_asked_twice_for_a_re_ingested_file(embedder: Embedder, tmp_path: Path) -> None:
    calls: list[int] = []

    class Spy:
        name, dim, identity = embedder.name, embedder.dim, embedder.identity

        def embed_documents(self, texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> np.ndarray:
            return embedder.embed_query(text)

    chunks = ["How do I copy a file?", "Use shutil.copyfile.", "Why are default values shared?"]
    store = CachedEmbedder(Spy(), VectorCache(tmp_path / "v.sqlite3", embedder.dim, 1000))

    first = store.embed_documents(chunks)
    second = store.embed_documents(chunks)

    assert calls == [3]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, embedder.embed_documents(chunks), atol=1e-6)
