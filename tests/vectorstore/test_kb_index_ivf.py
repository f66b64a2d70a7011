"""KBIndex past its size threshold: IVF takes over, finds what exact search finds, honours deletions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectorstore import KBIndex, Segment, SegmentStore
from vectorstore.ids import chunk_id, file_of
from vectorstore.settings import VectorIndexSettings

DIM = 32
KB = 1
FILES = 30
PER_FILE = 100


def clustered(n: int, seed: int, centers: np.ndarray) -> np.ndarray:
    """Unit vectors scattered around random mixtures of a few centers, like real embeddings."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet([1.0, 1.0, 1.0], n)
    rows = np.einsum("nk,nkd->nd", weights, centers[rng.integers(0, len(centers), (n, 3))])
    rows += rng.standard_normal(rows.shape) * (0.8 / np.sqrt(DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def centers() -> np.ndarray:
    rows = np.random.default_rng(7).standard_normal((60, DIM))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path, centers: np.ndarray) -> SegmentStore:
    segments = SegmentStore(tmp_path / "kbs")
    for file_id in range(1, FILES + 1):
        write(segments, file_id, clustered(PER_FILE, file_id, centers))
    return segments


def write(store: SegmentStore, file_id: int, vectors: np.ndarray, run: int = 1) -> Segment:
    ids = np.array([chunk_id(file_id, i) for i in range(len(vectors))], dtype=np.int64)
    segment = Segment(ids=ids, vectors=vectors)
    store.write(KB, file_id, run, segment)
    return segment


def settings(**changes: object) -> VectorIndexSettings:
    return VectorIndexSettings(approximate_after=2000, background_build=False).model_copy(update=changes)


def recall_at_10(approximate: KBIndex, exact: KBIndex, queries: np.ndarray) -> float:
    found = [len({i for i, _ in approximate.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) / 10 for q in queries]
    return float(np.mean(found))


@pytest.mark.unit
def test_exact_below_the_threshold_ivf_past_it(store: SegmentStore) -> None:
    index = KBIndex(KB, DIM, store, settings())
    index.sync(1, {f: 1 for f in range(1, 15)})  # 1,400 vectors
    assert (index.kind, index.size) == ("exact", 1400)

    index.sync(2, {f: 1 for f in range(1, FILES + 1)})

    assert (index.kind, index.size) == ("ivf", FILES * PER_FILE)


@pytest.mark.unit
def test_ivf_recall_at_10_against_exact_is_at_least_095(store: SegmentStore, centers: np.ndarray) -> None:
    generations = {f: 1 for f in range(1, FILES + 1)}
    approximate = KBIndex(KB, DIM, store, settings())
    exact = KBIndex(KB, DIM, store, settings(approximate_after=10**9))
    approximate.sync(1, generations)
    exact.sync(1, generations)

    assert (approximate.kind, exact.kind) == ("ivf", "exact")
    assert recall_at_10(approximate, exact, clustered(200, 999, centers)) >= 0.95


@pytest.mark.unit
def test_ivf_honours_deletions_and_re_ingestion(store: SegmentStore, centers: np.ndarray) -> None:
    index = KBIndex(KB, DIM, store, settings())
    index.sync(1, {f: 1 for f in range(1, FILES + 1)})
    assert index.kind == "ivf"
    gone = store.read(KB, 3, 1)
    fresh = write(store, 4, clustered(20, 444, centers), run=2)  # file 4 re-ingested: fewer vectors

    index.sync(2, {f: 2 if f == 4 else 1 for f in range(1, FILES + 1) if f != 3})

    assert index.kind == "ivf"
    assert index.size == (FILES - 2) * PER_FILE + 20
    for vector in gone.vectors[:20]:
        assert all(file_of(i) != 3 for i, _ in index.search(vector, 10))
    assert index.scores_for(gone.vectors[0], [int(gone.ids[0])]) == {}
    best_id, score = index.search(fresh.vectors[5], 1)[0]
    assert (best_id, score) == (int(fresh.ids[5]), pytest.approx(1.0, abs=1e-5))
    assert chunk_id(4, 50) not in {i for i, _ in index.search(fresh.vectors[5], 100)}
    assert index.scores_for(fresh.vectors[5], [int(fresh.ids[5])]) == {int(fresh.ids[5]): pytest.approx(1.0)}


@pytest.mark.unit
def test_a_kb_that_shrinks_goes_back_to_exact_search(store: SegmentStore) -> None:
    index = KBIndex(KB, DIM, store, settings())
    index.sync(1, {f: 1 for f in range(1, FILES + 1)})
    kept = store.read(KB, 2, 1)

    index.sync(2, {1: 1, 2: 1})

    assert (index.kind, index.size) == ("exact", 2 * PER_FILE)
    assert index.search(kept.vectors[7], 1)[0][0] == int(kept.ids[7])


@pytest.mark.unit
def test_changes_during_a_background_build_are_replayed(store: SegmentStore, centers: np.ndarray) -> None:
    index = KBIndex(KB, DIM, store, settings(background_build=True))
    index.sync(1, {f: 1 for f in range(1, FILES + 1)})  # starts the build
    write(store, FILES + 1, clustered(PER_FILE, 31, centers))
    replaced = write(store, 5, clustered(PER_FILE, 555, centers), run=2)

    # Whether the build finished before this sync or not, the result must be the same.
    index.sync(2, {**{f: 1 for f in range(2, FILES + 1)}, 5: 2, FILES + 1: 1})
    assert index.wait_for_build(timeout_s=60)

    assert index.kind == "ivf"
    assert index.size == FILES * PER_FILE
    assert {file_of(i) for i, _ in index.search(store.read(KB, 1, 1).vectors[0], 50)} <= set(range(2, FILES + 2))
    assert index.search(replaced.vectors[9], 1)[0][0] == int(replaced.ids[9])
    new = store.read(KB, FILES + 1, 1)
    assert index.search(new.vectors[3], 1)[0][0] == int(new.ids[3])


@pytest.mark.unit
def test_the_kb_is_retrained_after_growing(store: SegmentStore) -> None:
    index = KBIndex(KB, DIM, store, settings(retrain_growth=1.4))
    index.sync(1, {f: 1 for f in range(1, 21)})
    lists = index._index.nlist  # type: ignore[attr-defined]

    index.sync(2, {f: 1 for f in range(1, FILES + 1)})

    assert index.kind == "ivf"
    assert index._index.nlist > lists  # type: ignore[attr-defined]
