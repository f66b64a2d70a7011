"""One FAISS segment file per ingested file.

Why segments instead of one index per knowledge base: a writer only ever creates its own file's
segment (temp file, fsync, atomic rename), so concurrent workers cannot lose each other's vectors,
a crash never leaves a half-written index, and adding a file costs O(that file), not O(the KB).
Segments are written with `faiss.serialize_index` — no pickle is involved, unlike LangChain's
`FAISS.save_local`, whose `index.pkl` needs `allow_dangerous_deserialization` to load.

A KB's segments form a *set* per embedder it has had: set 0 is `segments/`, a re-embed job `n`
writes set `n` into `segments-<n>/` beside the live one, and the catalog row of the KB says which
set readers load (`segment_set`), so switching embedders is one catalog write.
"""

from __future__ import annotations

import os
import shutil
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
    """Segments of every knowledge base under `<root>/<kb_id>/segments[-<set>]/<file_id>.<run>.faiss`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, kb_id: int, segment_set: int = 0) -> Path:
        name = "segments" if segment_set == 0 else f"segments-{int(segment_set)}"
        return self.root / str(int(kb_id)) / name

    def sets(self, kb_id: int) -> list[int]:
        """The segment sets on disk for the KB."""
        found = []
        for path in (self.root / str(int(kb_id))).glob("segments*"):
            suffix = path.name.removeprefix("segments")
            if suffix == "":
                found.append(0)
            elif suffix.startswith("-") and suffix[1:].isdigit():
                found.append(int(suffix[1:]))
        return sorted(found)

    def runs(self, kb_id: int, segment_set: int = 0) -> RunFiles:
        return RunFiles(self.folder(kb_id, segment_set), ".faiss")

    def path(self, kb_id: int, file_id: int, generation: int, segment_set: int = 0) -> Path:
        """Where the segment of that generation is (the pre-run-number name if only that exists)."""
        return self.runs(kb_id, segment_set).existing(file_id, generation)

    def write(self, kb_id: int, file_id: int, run: int, segment: Segment, segment_set: int = 0) -> Path:
        """Atomically write the segment of one file's run."""
        target = self.runs(kb_id, segment_set).path(file_id, run)
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

    def read(self, kb_id: int, file_id: int, generation: int, segment_set: int = 0) -> Segment:
        """Read one file's segment of that generation.

        Raises:
            SegmentCorrupt: the file is missing or unreadable.
        """
        path = self.path(kb_id, file_id, generation, segment_set)
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
        """Remove every run's segment of the file, in every set."""
        for segment_set in self.sets(kb_id):
            self.runs(kb_id, segment_set).remove(file_id)

    def delete_run(self, kb_id: int, file_id: int, run: int, segment_set: int = 0) -> None:
        self.runs(kb_id, segment_set).path(file_id, run).unlink(missing_ok=True)

    def prune(self, kb_id: int, file_id: int, keep: int, segment_set: int = 0) -> None:
        """Remove the file's segments of every run but `keep` (in that set)."""
        self.runs(kb_id, segment_set).remove(file_id, keep=keep)

    def delete_set(self, kb_id: int, segment_set: int) -> None:
        """Remove a whole set (an old embedder's after a switch, or a failed re-embed's)."""
        shutil.rmtree(self.folder(kb_id, segment_set), ignore_errors=True)

    def file_ids(self, kb_id: int, segment_set: int = 0) -> list[int]:
        return self.runs(kb_id, segment_set).file_ids()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
