"""SegmentStore: one atomically written FAISS file per ingested file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from vectorstore import Segment, SegmentCorrupt, SegmentStore
from vectorstore.ids import chunk_id

pytestmark = pytest.mark.unit

DIM = 8


def make_segment(file_id: int, n: int, seed: int = 0) -> Segment:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.array([chunk_id(file_id, i) for i in range(n)], dtype=np.int64)
    return Segment(ids=ids, vectors=vectors)


@pytest.fixture
def store(tmp_path: Path) -> SegmentStore:
    return SegmentStore(tmp_path / "kbs")


def test_write_then_read_roundtrips_ids_and_vectors(store: SegmentStore) -> None:
    segment = make_segment(file_id=3, n=5)
    store.write(1, 3, 1, segment)

    assert store.path(1, 3, 1).is_file()
    back = store.read(1, 3, 1)
    assert back.ids.dtype == np.int64
    assert back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.ids, segment.ids)
    np.testing.assert_array_equal(back.vectors, segment.vectors)


def test_an_empty_segment_roundtrips(store: SegmentStore) -> None:
    store.write(1, 4, 1, Segment(np.zeros(0, np.int64), np.zeros((0, DIM), np.float32)))
    back = store.read(1, 4, 1)
    assert back.ids.shape == (0,)
    assert back.vectors.shape == (0, DIM)


def test_rewrite_replaces_the_segment_and_leaves_no_temp_files(store: SegmentStore) -> None:
    store.write(1, 3, 1, make_segment(3, 5, seed=1))
    replacement = make_segment(3, 2, seed=2)
    store.write(1, 3, 1, replacement)

    back = store.read(1, 3, 1)
    np.testing.assert_array_equal(back.ids, replacement.ids)
    np.testing.assert_array_equal(back.vectors, replacement.vectors)
    assert [p.name for p in store.path(1, 3, 1).parent.iterdir()] == ["3.1.faiss"]


def test_failed_replace_removes_its_temp_file(store: SegmentStore) -> None:
    # A directory where the segment should go makes the final rename fail for real.
    blocker = store.runs(1).path(3, 1)
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("x")

    with pytest.raises(IsADirectoryError):
        store.write(1, 3, 1, make_segment(3, 2))
    assert sorted(p.name for p in blocker.parent.iterdir()) == ["3.1.faiss"]


def test_segments_of_knowledge_bases_and_files_are_separate(store: SegmentStore) -> None:
    store.write(1, 3, 1, make_segment(3, 2, seed=1))
    store.write(1, 7, 1, make_segment(7, 3, seed=2))
    store.write(2, 3, 1, make_segment(3, 4, seed=3))

    assert store.file_ids(1) == [3, 7]
    assert store.file_ids(2) == [3]
    assert store.file_ids(99) == []
    assert len(store.read(2, 3, 1).ids) == 4


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-4], id="tail-cut"),
        pytest.param(lambda data: b"this is not a faiss index" * 8, id="garbage"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_damaged_file_raises_segment_corrupt(store: SegmentStore, damage: Callable[[bytes], bytes]) -> None:
    store.write(1, 3, 1, make_segment(3, 5))
    path = store.path(1, 3, 1)
    path.write_bytes(damage(path.read_bytes()))

    with pytest.raises(SegmentCorrupt, match="cannot be read"):
        store.read(1, 3, 1)


def test_index_without_id_map_raises_segment_corrupt(store: SegmentStore) -> None:
    path = store.runs(1).path(3, 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(faiss.serialize_index(faiss.IndexFlatIP(DIM)).tobytes())

    with pytest.raises(SegmentCorrupt, match="not an id-mapped index"):
        store.read(1, 3, 1)


def test_missing_segment_raises_segment_corrupt(store: SegmentStore) -> None:
    with pytest.raises(SegmentCorrupt):
        store.read(1, 3, 1)


def test_delete_removes_the_file_and_is_idempotent(store: SegmentStore) -> None:
    store.write(1, 3, 1, make_segment(3, 2))
    store.write(1, 4, 1, make_segment(4, 2))

    store.delete(1, 3)
    store.delete(1, 3)

    assert not store.path(1, 3, 1).exists()
    assert store.file_ids(1) == [4]
    with pytest.raises(SegmentCorrupt):
        store.read(1, 3, 1)


def test_runs_are_separate_files_and_prune_keeps_only_the_generation(store: SegmentStore) -> None:
    store.write(1, 3, 1, make_segment(3, 2, seed=1))
    store.write(1, 3, 2, make_segment(3, 4, seed=2))
    assert len(store.read(1, 3, 1).ids) == 2
    assert len(store.read(1, 3, 2).ids) == 4
    store.prune(1, 3, keep=2)
    assert store.runs(1).runs(3) == [2]
    with pytest.raises(SegmentCorrupt):
        store.read(1, 3, 1)


def test_a_segment_from_before_run_numbers_is_read_for_its_generation_until_pruned(store: SegmentStore) -> None:
    store.write(1, 3, 7, make_segment(3, 2))
    store.runs(1).path(3, 7).rename(store.root / store.runs(1).legacy(3))  # how older data dirs name it
    assert len(store.read(1, 3, 7).ids) == 2
    store.write(1, 3, 8, make_segment(3, 5))
    store.prune(1, 3, keep=8)
    assert [p.name for p in store.path(1, 3, 8).parent.iterdir()] == ["3.8.faiss"]
