"""The in-memory, searchable union of a knowledge base's segments.

A reader never writes: it loads the segments of files the catalog says are done and drops the id
ranges of files that went away or were re-ingested. It only loads segments of `done` files, so a
segment written by a task that crashed before its commit stays invisible.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import faiss
import numpy as np

from vectorstore.ids import file_id_range
from vectorstore.segments import SegmentStore


class KBIndex:
    """Exact inner-product search over one knowledge base, kept in step with the catalog."""

    def __init__(self, kb_id: int, dim: int, segments: SegmentStore) -> None:
        self.kb_id = kb_id
        self.dim = dim
        self._segments = segments
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._loaded: dict[int, int] = {}  # file_id -> generation
        self._version: int | None = None
        self._lock = threading.RLock()

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def sync(self, version: int, generations: Mapping[int, int]) -> None:
        """Make the index hold exactly the segments of `generations` (file_id -> generation).

        Raises:
            SegmentCorrupt: a done file's segment cannot be read.
        """
        with self._lock:
            if self._version == version:
                return
            for file_id, gen in list(self._loaded.items()):
                if generations.get(file_id) != gen:
                    self._drop(file_id)
            for file_id, gen in generations.items():
                if self._loaded.get(file_id) == gen:
                    continue
                segment = self._segments.read(self.kb_id, file_id)
                if len(segment.ids):
                    self._index.add_with_ids(segment.vectors, segment.ids)
                self._loaded[file_id] = gen
            self._version = version

    def _drop(self, file_id: int) -> None:
        start, end = file_id_range(file_id)
        self._index.remove_ids(faiss.IDSelectorRange(start, end))
        del self._loaded[file_id]

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids with their inner-product scores, best first."""
        with self._lock:
            if self._index.ntotal == 0 or k <= 0:
                return []
            scores, ids = self._index.search(
                np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                min(k, int(self._index.ntotal)),
            )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def scores_for(self, query: np.ndarray, chunk_ids: list[int]) -> dict[int, float]:
        """Inner products of the query with specific chunks (those present in the index)."""
        found: dict[int, float] = {}
        with self._lock:
            for cid in chunk_ids:
                try:
                    vector = self._index.reconstruct(int(cid))
                except RuntimeError:  # not in the index
                    continue
                found[cid] = float(np.dot(vector, query))
        return found


class KBIndexRegistry:
    """One `KBIndex` per knowledge base, created on first use."""

    def __init__(self, segments: SegmentStore, dim: int) -> None:
        self._segments = segments
        self._dim = dim
        self._indexes: dict[int, KBIndex] = {}
        self._lock = threading.Lock()

    def get(self, kb_id: int) -> KBIndex:
        with self._lock:
            index = self._indexes.get(kb_id)
            if index is None:
                index = self._indexes[kb_id] = KBIndex(kb_id, self._dim, self._segments)
            return index

    def forget(self, kb_id: int) -> None:
        with self._lock:
            self._indexes.pop(kb_id, None)
