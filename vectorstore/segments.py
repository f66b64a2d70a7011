"""One FAISS segment file per ingested file.

Why segments instead of one index per knowledge base: a writer only ever creates its own file's
segment (atomically: see `byte_store`), so concurrent workers cannot lose each other's vectors,
a crash never leaves a half-written index, and adding a file costs O(that file), not O(the KB).
Segments are written with `faiss.serialize_index` — no pickle is involved, unlike LangChain's
`FAISS.save_local`, whose `index.pkl` needs `allow_dangerous_deserialization` to load.

A KB's segments form a *set* per embedder it has had: set 0 is `segments/`, a re-embed job `n`
writes set `n` into `segments-<n>/` beside the live one, and the catalog row of the KB says which
set readers load (`segment_set`), so switching embedders is one catalog write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vectorstore.byte_store import ByteStore, LocalByteStore, local_path
from vectorstore.errors import SegmentCorrupt
from vectorstore.run_files import RunFiles


@dataclass(frozen=True)
class Segment:
    ids: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dim)


class SegmentStore:
    """Segments of every knowledge base, named `<kb_id>/segments/<file_id>.<run>.faiss` in a byte
    store (a folder of the data dir when given a path)."""

    def __init__(self, store: Path | ByteStore) -> None:
        self.store = LocalByteStore(store) if isinstance(store, Path) else store

    @property
    def root(self) -> Path:
        """The folder of a local store (see `byte_store.local_path`)."""
        return local_path(self.store, "")

    def folder_name(self, kb_id: int, segment_set: int = 0) -> str:
        name = "segments" if segment_set == 0 else f"segments-{int(segment_set)}"
        return f"{int(kb_id)}/{name}"

    def folder(self, kb_id: int, segment_set: int = 0) -> Path:
        """Where a local store keeps that set (see `byte_store.local_path`)."""
        return local_path(self.store, self.folder_name(kb_id, segment_set))

    def sets(self, kb_id: int) -> list[int]:
        """The segment sets stored for the KB."""
        found = []
        for name in self.store.folders(str(int(kb_id))):
            suffix = name.removeprefix("segments")
            if name.startswith("segments") and suffix == "":
                found.append(0)
            elif name.startswith("segments") and suffix.startswith("-") and suffix[1:].isdigit():
                found.append(int(suffix[1:]))
        return sorted(found)

    def runs(self, kb_id: int, segment_set: int = 0) -> RunFiles:
        return RunFiles(self.store, self.folder_name(kb_id, segment_set), ".faiss")

    def path(self, kb_id: int, file_id: int, generation: int, segment_set: int = 0) -> Path:
        """Where the local store keeps that generation (the pre-run-number name if only that exists)."""
        return local_path(self.store, self.runs(kb_id, segment_set).existing(file_id, generation))

    def exists(self, kb_id: int, file_id: int, generation: int, segment_set: int = 0) -> bool:
        return self.store.exists(self.runs(kb_id, segment_set).existing(file_id, generation))

    def write(self, kb_id: int, file_id: int, run: int, segment: Segment, segment_set: int = 0) -> None:
        """Atomically write the segment of one file's run."""
        dim = segment.vectors.shape[1]
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if len(segment.ids):
            index.add_with_ids(
                np.ascontiguousarray(segment.vectors, dtype=np.float32),
                np.ascontiguousarray(segment.ids, dtype=np.int64),
            )
        self.runs(kb_id, segment_set).write(file_id, run, faiss.serialize_index(index).tobytes())

    def read(self, kb_id: int, file_id: int, generation: int, segment_set: int = 0) -> Segment:
        """Read one file's segment of that generation.

        Raises:
            SegmentCorrupt: the segment is missing or unreadable.
        """
        where = f"segment {self.folder_name(kb_id, segment_set)}/{file_id}.{generation}"
        try:
            data = self.runs(kb_id, segment_set).read(file_id, generation)
        except OSError as exc:
            raise SegmentCorrupt(f"{where} cannot be read: {exc}") from exc
        if data is None:
            raise SegmentCorrupt(f"{where} cannot be read: it is missing")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise SegmentCorrupt(f"{where} cannot be read: {exc}") from exc
        id_map = faiss.downcast_index(index)
        if not isinstance(id_map, faiss.IndexIDMap2):
            raise SegmentCorrupt(f"{where} is not an id-mapped index")
        ids = faiss.vector_to_array(id_map.id_map).astype(np.int64)
        vectors = (
            id_map.index.reconstruct_n(0, id_map.ntotal) if id_map.ntotal else np.zeros((0, id_map.d), dtype=np.float32)
        )
        return Segment(ids=ids, vectors=np.asarray(vectors, dtype=np.float32))

    def delete(self, kb_id: int, file_id: int) -> None:
        """Remove every run's segment of the file, in every set."""
        for segment_set in self.sets(kb_id):
            self.runs(kb_id, segment_set).remove(file_id)

    def delete_run(self, kb_id: int, file_id: int, run: int, segment_set: int = 0) -> None:
        self.runs(kb_id, segment_set).remove_run(file_id, run)

    def prune(self, kb_id: int, file_id: int, keep: int, segment_set: int = 0) -> None:
        """Remove the file's segments of every run but `keep` (in that set)."""
        self.runs(kb_id, segment_set).remove(file_id, keep=keep)

    def delete_set(self, kb_id: int, segment_set: int) -> None:
        """Remove a whole set (an old embedder's after a switch, or a failed re-embed's)."""
        self.store.delete_folder(self.folder_name(kb_id, segment_set))

    def delete_kb(self, kb_id: int) -> None:
        """Remove every stored artefact of the knowledge base (segments and keyword blocks)."""
        self.store.delete_folder(str(int(kb_id)))

    def file_ids(self, kb_id: int, segment_set: int = 0) -> list[int]:
        return self.runs(kb_id, segment_set).file_ids()
