"""One FAISS segment file per ingested file.

Why segments instead of one index per knowledge base: a writer only ever creates its own file's
segment (temp file, fsync, atomic rename), so concurrent workers cannot lose each other's vectors,
a crash never leaves a half-written index, and adding a file costs O(that file), not O(the KB).
Segments are written with `faiss.serialize_index` — no pickle is involved, unlike LangChain's
`FAISS.save_local`, whose `index.pkl` needs `allow_dangerous_deserialization` to load.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vectorstore.errors import SegmentCorrupt
from vectorstore.run_files import RunFiles


@dataclass(frozen=True)
class Segment:
    ids: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dim)


class SegmentStore:
    """Segments of every knowledge base under `<root>/<kb_id>/segments/<file_id>.<run>.faiss`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def runs(self, kb_id: int) -> RunFiles:
        return RunFiles(self.root / str(int(kb_id)) / "segments", ".faiss")

    def path(self, kb_id: int, file_id: int, generation: int) -> Path:
        """Where the segment of that generation is (the pre-run-number name if only that exists)."""
        return self.runs(kb_id).existing(file_id, generation)

    def write(self, kb_id: int, file_id: int, run: int, segment: Segment) -> Path:
        """Atomically write the segment of one file's run."""
        target = self.runs(kb_id).path(file_id, run)
        target.parent.mkdir(parents=True, exist_ok=True)
        dim = segment.vectors.shape[1]
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if len(segment.ids):
            index.add_with_ids(
                np.ascontiguousarray(segment.vectors, dtype=np.float32),
                np.ascontiguousarray(segment.ids, dtype=np.int64),
            )
        data = faiss.serialize_index(index)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{file_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.tobytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return target

    def read(self, kb_id: int, file_id: int, generation: int) -> Segment:
        """Read one file's segment of that generation.

        Raises:
            SegmentCorrupt: the file is missing or unreadable.
        """
        path = self.path(kb_id, file_id, generation)
        try:
            raw = np.fromfile(path, dtype=np.uint8)
            index = faiss.deserialize_index(raw)
        except (OSError, RuntimeError) as exc:
            raise SegmentCorrupt(f"segment {path} cannot be read: {exc}") from exc
        id_map = faiss.downcast_index(index)
        if not isinstance(id_map, faiss.IndexIDMap2):
            raise SegmentCorrupt(f"segment {path} is not an id-mapped index")
        ids = faiss.vector_to_array(id_map.id_map).astype(np.int64)
        vectors = (
            id_map.index.reconstruct_n(0, id_map.ntotal) if id_map.ntotal else np.zeros((0, id_map.d), dtype=np.float32)
        )
        return Segment(ids=ids, vectors=np.asarray(vectors, dtype=np.float32))

    def delete(self, kb_id: int, file_id: int) -> None:
        """Remove every run's segment of the file."""
        self.runs(kb_id).remove(file_id)

    def delete_run(self, kb_id: int, file_id: int, run: int) -> None:
        self.runs(kb_id).path(file_id, run).unlink(missing_ok=True)

    def prune(self, kb_id: int, file_id: int, keep: int) -> None:
        """Remove the file's segments of every run but `keep`."""
        self.runs(kb_id).remove(file_id, keep=keep)

    def file_ids(self, kb_id: int) -> list[int]:
        return self.runs(kb_id).file_ids()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
