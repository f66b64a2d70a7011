"""The in-memory, searchable union of a knowledge base's segments.

A reader never writes: it loads the segments of files the catalog says are done and drops the id
ranges of files that went away or were re-ingested. It only loads segments of `done` files, so a
segment written by a task that crashed before its commit stays invisible.

Search is exact (flat) until the KB holds `approximate_after` vectors; then an IVF index is
trained on the KB's own vectors in a background thread while searches go on against the exact
one. When it is ready, the files that changed meanwhile are replayed into it and it takes over.
IVF removes vectors by id, so deletions stay immediate; it is retrained when the KB has grown
`retrain_growth` times, and a KB that shrinks below half the threshold goes back to exact search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import faiss
import numpy as np

from vectorstore import ivf
from vectorstore.errors import SegmentCorrupt
from vectorstore.ids import file_id_range
from vectorstore.segments import SegmentStore
from vectorstore.settings import VectorIndexSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    generation: int
    ids: np.ndarray  # int64: exactly the ids this file has in the index


class KBIndex:
    """Inner-product search over one knowledge base, kept in step with the catalog."""

    def __init__(
        self,
        kb_id: int,
        dim: int,
        segments: SegmentStore,
        settings: VectorIndexSettings | None = None,
        segment_set: int = 0,
    ) -> None:
        self.kb_id = kb_id
        self.dim = dim
        self.segment_set = segment_set
        self._segments = segments
        self._settings = settings or VectorIndexSettings()
        self._index: faiss.Index = _exact_index(dim)
        self._kind = "exact"
        self._trained_size = 0
        self._loaded: dict[int, _Loaded] = {}
        self._version: int | None = None
        self._lock = threading.RLock()
        self._builder: threading.Thread | None = None
        self._failed_size = 0  # size at which a build failed: not retried before the KB grows
        self._unreadable: dict[int, str] = {}

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def unreadable(self) -> dict[int, str]:
        """Done files whose segment could not be read at the last sync (file_id -> why)."""
        return dict(self._unreadable)

    @property
    def kind(self) -> str:
        """`exact` or `ivf`."""
        return self._kind

    def sync(self, version: int, generations: Mapping[int, int]) -> None:
        """Make the index hold exactly the segments of `generations` (file_id -> generation).

        A segment that cannot be read leaves its file out (listed in `unreadable`, tried again at
        the next version) rather than failing every search of the KB; `kb-server doctor --repair`
        re-ingests it.
        """
        with self._lock:
            if self._version == version:
                return
            self._unreadable = {}
            for file_id, loaded in list(self._loaded.items()):
                if generations.get(file_id) != loaded.generation:
                    self._drop(file_id)
            for file_id, gen in generations.items():
                held = self._loaded.get(file_id)
                if held is not None and held.generation == gen:
                    continue
                try:
                    segment = self._segments.read(self.kb_id, file_id, gen, self.segment_set)
                except SegmentCorrupt as exc:
                    self._unreadable[file_id] = str(exc)
                    log.error("kb %s: file %s left out of search: %s", self.kb_id, file_id, exc)
                    continue
                if len(segment.ids):
                    self._index.add_with_ids(segment.vectors, segment.ids)
                self._loaded[file_id] = _Loaded(gen, segment.ids)
            self._version = version
            self._reshape()

    def _drop(self, file_id: int) -> None:
        held = self._loaded.pop(file_id)
        if self._kind == "ivf":
            ivf.remove(self._index, held.ids)
        else:
            start, end = file_id_range(file_id)
            self._index.remove_ids(faiss.IDSelectorRange(start, end))

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

    def wait_for_build(self, timeout_s: float | None = None) -> bool:
        """Wait for a background build to finish; False if it is still running."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout_s)
            return not builder.is_alive()
        return True

    def _reshape(self) -> None:
        """Start an IVF (re)build, or fall back to exact search, as the size asks (lock held)."""
        size, limit = self.size, self._settings.approximate_after
        if self._builder is not None and self._builder.is_alive():
            return
        if self._kind == "ivf" and size < limit // 2:
            self._index = self._exact_copy()
            self._kind, self._trained_size = "exact", 0
            return
        grown = size >= self._settings.retrain_growth * self._trained_size
        wanted = size >= limit and (self._kind == "exact" or grown)
        if not wanted or (self._failed_size and size < self._settings.retrain_growth * self._failed_size):
            return
        snapshot = dict(self._loaded)
        ids, vectors = self._all_vectors(snapshot)
        if self._settings.background_build:
            self._builder = threading.Thread(
                target=self._build, args=(snapshot, ids, vectors), name=f"ivf-build-kb{self.kb_id}", daemon=True
            )
            self._builder.start()
        else:
            self._build(snapshot, ids, vectors)

    def _build(self, snapshot: dict[int, _Loaded], ids: np.ndarray, vectors: np.ndarray) -> None:
        try:
            index = ivf.build_ivf(ids, vectors, self._settings)
        except Exception:  # keep serving the current index
            log.exception("kb %s: building the IVF index over %d vectors failed", self.kb_id, len(ids))
            with self._lock:
                self._failed_size = len(ids)
            return
        del vectors
        with self._lock:
            # Files that changed while we trained: take their current vectors from the live index.
            for file_id in snapshot.keys() | self._loaded.keys():
                before, now = snapshot.get(file_id), self._loaded.get(file_id)
                if before is not None and (now is None or now.generation != before.generation):
                    ivf.remove(index, before.ids)
                if now is not None and len(now.ids) and (before is None or now.generation != before.generation):
                    index.add_with_ids(self._index.reconstruct_batch(now.ids), now.ids)
            self._index, self._kind, self._trained_size = index, "ivf", int(index.ntotal)
        log.info("kb %s: IVF index over %d vectors (%d lists) in use", self.kb_id, index.ntotal, index.nlist)

    def _all_vectors(self, loaded: Mapping[int, _Loaded]) -> tuple[np.ndarray, np.ndarray]:
        if self._kind == "exact":
            id_map = self._index
            assert isinstance(id_map, faiss.IndexIDMap2)
            ids = faiss.vector_to_array(id_map.id_map).astype(np.int64)
            return ids, id_map.index.reconstruct_n(0, id_map.ntotal)
        ids = np.concatenate([held.ids for held in loaded.values()] or [np.zeros(0, dtype=np.int64)])
        return ids, self._index.reconstruct_batch(ids) if len(ids) else np.zeros((0, self.dim), dtype=np.float32)

    def _exact_copy(self) -> faiss.Index:
        ids, vectors = self._all_vectors(self._loaded)
        index = _exact_index(self.dim)
        if len(ids):
            index.add_with_ids(vectors, ids)
        return index


def _exact_index(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class KBIndexRegistry:
    """One `KBIndex` per knowledge base, created on first use."""

    def __init__(self, segments: SegmentStore, dim: int, settings: VectorIndexSettings | None = None) -> None:
        self._segments = segments
        self._dim = dim
        self._settings = settings or VectorIndexSettings()
        self._indexes: dict[int, KBIndex] = {}
        self._lock = threading.Lock()

    def get(self, kb_id: int, dim: int | None = None, segment_set: int = 0) -> KBIndex:
        """The KB's index; `dim` is its vectors' (each KB keeps its own embedder), default the registry's.

        A newer `segment_set` than the held index's (the KB was re-embedded) replaces it with a
        fresh index over that set; searches still running keep the old object. Sets only grow: an
        older one is a caller that read the KB just before its switch, and gets the newer index
        (its `segment_set` tells the caller to read the KB again).
        """
        dim = dim or self._dim
        with self._lock:
            index = self._indexes.get(kb_id)
            if index is not None and index.segment_set > segment_set:
                return index
            if index is None or index.segment_set != segment_set or index.dim != dim:
                index = KBIndex(kb_id, dim, self._segments, self._settings, segment_set)
                self._indexes[kb_id] = index
            return index

    def forget(self, kb_id: int) -> None:
        with self._lock:
            self._indexes.pop(kb_id, None)
