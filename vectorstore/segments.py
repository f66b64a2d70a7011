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


@dataclass(frozen=True)
class Segment:
    ids: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dim)


class SegmentStore:
    """Segments of every knowledge base under `<root>/<kb_id>/segments/<file_id>.faiss`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kb_id: int, file_id: int) -> Path:
        return self.root / str(int(kb_id)) / "segments" / f"{int(file_id)}.faiss"

    def write(self, kb_id: int, file_id: int, segment: Segment) -> Path:
        """Atomically write (or replace) the segment of one file."""
        target = self.path(kb_id, file_id)
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

    def read(self, kb_id: int, file_id: int) -> Segment:
        """Read one file's segment.

        Raises:
            SegmentCorrupt: the file is missing or unreadable.
        """
        path = self.path(kb_id, file_id)
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
        self.path(kb_id, file_id).unlink(missing_ok=True)

    def file_ids(self, kb_id: int) -> list[int]:
        folder = self.root / str(int(kb_id)) / "segments"
        if not folder.is_dir():
            return []
        return sorted(int(p.stem) for p in folder.glob("*.faiss") if p.stem.isdigit())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
