"""KBIndex: the searchable union of a knowledge base's segments, kept in step with the catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorstore import Embedder, KBIndex, KBIndexRegistry, Segment, SegmentStore
from vectorstore.ids import chunk_id, file_of

DIM = 16
KB = 1


def unit_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write(store: SegmentStore, file_id: int, vectors: np.ndarray, run: int = 1) -> Segment:
    ids = np.array([chunk_id(file_id, i) for i in range(len(vectors))], dtype=np.int64)
    segment = Segment(ids=ids, vectors=vectors)
    store.write(KB, file_id, run, segment)
    return segment


@pytest.fixture
def store(tmp_path: Path) -> SegmentStore:
    return SegmentStore(tmp_path / "kbs")


@pytest.fixture
def index(store: SegmentStore) -> KBIndex:
    return KBIndex(KB, DIM, store)


@pytest.mark.unit
def test_empty_index_returns_nothing(index: KBIndex) -> None:
    assert index.version is None
    assert index.size == 0
    assert index.search(unit_rows(1, 0)[0], 5) == []


@pytest.mark.unit
def test_sync_adds_the_segments_of_the_given_files(store: SegmentStore, index: KBIndex) -> None:
    a = write(store, 1, unit_rows(3, 1))
    b = write(store, 2, unit_rows(4, 2))

    index.sync(version=1, generations={1: 1, 2: 1})

    assert index.version == 1
    assert index.size == 7
    for segment in (a, b):
        for cid, vector in zip(segment.ids, segment.vectors, strict=True):
            best_id, score = index.search(vector, 1)[0]
            assert best_id == cid
            assert score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.unit
def test_search_returns_best_first_and_at_most_k(store: SegmentStore, index: KBIndex) -> None:
    write(store, 1, unit_rows(20, 3))
    index.sync(1, {1: 1})
    query = unit_rows(1, 99)[0]

    hits = index.search(query, 5)

    assert len(hits) == 5
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    segment = store.read(KB, 1, 1)
    expected = np.argsort(-(segment.vectors @ query))[:5]
    assert [i for i, _ in hits] == [int(segment.ids[j]) for j in expected]
    assert len(index.search(query, 100)) == 20
    assert index.search(query, 0) == []


@pytest.mark.unit
def test_same_version_is_a_no_op(store: SegmentStore, index: KBIndex) -> None:
    write(store, 1, unit_rows(3, 1))
    index.sync(1, {1: 1})
    store.delete(KB, 1)

    # Nothing is read from disk: an unchanged version means unchanged content.
    index.sync(1, {1: 2, 5: 1})

    assert index.size == 3


@pytest.mark.unit
def test_a_generation_change_reloads_the_files_segment(store: SegmentStore, index: KBIndex) -> None:
    write(store, 1, unit_rows(5, 1))
    other = write(store, 2, unit_rows(2, 2))
    index.sync(1, {1: 1, 2: 1})

    fresh = write(store, 1, unit_rows(2, 10), run=2)  # file 1 re-ingested: fewer, different vectors
    index.sync(2, {1: 2, 2: 1})

    assert index.size == 4
    best_id, score = index.search(fresh.vectors[1], 1)[0]
    assert (best_id, score) == (int(fresh.ids[1]), pytest.approx(1.0, abs=1e-5))
    ids = {i for i, _ in index.search(fresh.vectors[0], 10)}
    assert ids == {*map(int, fresh.ids), *map(int, other.ids)}


@pytest.mark.unit
def test_a_removed_files_vectors_disappear(store: SegmentStore, index: KBIndex) -> None:
    gone = write(store, 1, unit_rows(3, 1))
    kept = write(store, 2, unit_rows(3, 2))
    index.sync(1, {1: 1, 2: 1})

    index.sync(2, {2: 1})

    assert index.size == 3
    hits = index.search(gone.vectors[0], 10)
    assert {file_of(i) for i, _ in hits} == {2}
    assert {i for i, _ in hits} == set(map(int, kept.ids))


@pytest.mark.unit
def test_files_not_listed_are_never_loaded(store: SegmentStore, index: KBIndex) -> None:
    write(store, 1, unit_rows(3, 1))
    write(store, 2, unit_rows(3, 2))  # e.g. written by a task that crashed before its commit

    index.sync(1, {1: 1})

    assert {file_of(i) for i, _ in index.search(unit_rows(1, 5)[0], 10)} == {1}


@pytest.mark.unit
def test_a_corrupt_segment_leaves_only_its_file_out_until_a_later_sync(store: SegmentStore, index: KBIndex) -> None:
    write(store, 1, unit_rows(3, 1))
    path = store.path(KB, 2, 1)
    path.write_bytes(b"broken")

    index.sync(1, {1: 1, 2: 1})

    assert index.version == 1
    assert list(index.unreadable) == [2]
    assert "cannot be read" in index.unreadable[2]
    assert {file_of(i) for i, _ in index.search(unit_rows(1, 5)[0], 10)} == {1}

    write(store, 2, unit_rows(2, 2), run=2)  # e.g. re-ingested by `doctor --repair`
    index.sync(2, {1: 1, 2: 2})
    assert index.unreadable == {}
    assert index.size == 5


@pytest.mark.unit
def test_registry_keeps_one_index_per_kb(store: SegmentStore) -> None:
    registry = KBIndexRegistry(store, DIM)

    first = registry.get(1)
    assert registry.get(1) is first
    assert registry.get(2) is not first
    assert first.dim == DIM

    registry.forget(1)
    assert registry.get(1) is not first


@pytest.mark.integration
def test_real_embeddings_rank_the_matching_passage_first(store: SegmentStore, embedder: Embedder) -> None:
    passages = [
        "To reset your password, open Settings, choose Account and click 'Forgot password'.",
        "Our office is closed on public holidays and reopens the next working day.",
        "The espresso machine must be descaled every two months with citric acid.",
    ]
    write(store, 1, embedder.embed_documents(passages[:2]))
    write(store, 2, embedder.embed_documents(passages[2:]))
    index = KBIndex(KB, embedder.dim, store)
    index.sync(1, {1: 1, 2: 1})

    def top(question: str) -> int:
        return index.search(embedder.embed_query(question), 3)[0][0]

    assert top("I forgot my login password, how do I change it?") == chunk_id(1, 0)
    assert top("When are you closed?") == chunk_id(1, 1)
    assert top("How often should the coffee maker be cleaned?") == chunk_id(2, 0)
