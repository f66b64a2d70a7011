"""Where stored bytes live: named objects (`ab/<sha256>`, `3/segments/5.2.faiss`) in a `ByteStore`.

Uploads, vector segments and keyword blocks all sit on this one seam. `LocalByteStore` keeps each
object as a file under a folder of the data dir (the default); `catalog.stored_bytes` keeps them in
the catalog's PostgreSQL, so hosts share nothing on disk. Every implementation makes an object
visible whole or not at all: a reader never sees a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

# (size in bytes, when it was written in seconds since the epoch): a plain tuple, so that stores
# in other packages (`catalog.stored_bytes`) need not import this one.
ObjectStat = tuple[int, float]


@runtime_checkable
class ByteStore(Protocol):
    def write(self, name: str, blocks: Iterable[bytes]) -> None:
        """Store the object atomically, replacing one of that name."""

    def move_in(self, name: str, path: Path) -> None:
        """Store a local file as the object (the file is gone afterwards)."""

    def read(self, name: str) -> bytes | None:
        """The whole object (for small ones: segments, keyword blocks), None if there is none."""

    def local_file(self, name: str) -> AbstractContextManager[Path | None]:
        """A local file holding the object while the context lasts (None if there is none), for
        parsers that need a path; big objects are copied piece by piece, never held in memory."""

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None:
        """Remove the object if it exists."""

    def delete_folder(self, folder: str) -> None:
        """Remove every object whose name starts with `folder/`."""

    def folders(self, folder: str) -> list[str]:
        """The names of the folders directly in `folder` that hold objects, sorted."""

    def names(self, folder: str, start: str = "") -> list[str]:
        """Names of the objects under `folder` (every depth; `""`: all), sorted; with `start`, only
        those directly in `folder` whose last part begins with it."""

    def stats(self, folder: str = "") -> dict[str, ObjectStat]:
        """Size and write time of every object under `folder` (the names `names(folder)` lists),
        from one listing: for comparing two stores and telling old objects from new ones."""


class LocalByteStore:
    """Objects as files under `root`: temp file, fsync, atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, name: str, blocks: Iterable[bytes]) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                for block in blocks:
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def move_in(self, name: str, path: Path) -> None:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    @contextmanager
    def local_file(self, name: str) -> Iterator[Path | None]:
        path = self.path(name)
        yield path if path.exists() else None

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def delete_folder(self, folder: str) -> None:
        shutil.rmtree(self.path(folder), ignore_errors=True)

    def folders(self, folder: str) -> list[str]:
        base = self.path(folder)
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def names(self, folder: str, start: str = "") -> list[str]:
        base = self.path(folder) if folder else self.root
        if not base.is_dir():
            return []
        found = base.glob(f"{start}*") if start else base.rglob("*")
        return sorted(str(p.relative_to(self.root)) for p in found if not p.name.startswith(".") and p.is_file())

    def stats(self, folder: str = "") -> dict[str, ObjectStat]:
        found = {}
        for name in self.names(folder):
            try:
                st = self.path(name).stat()
            except FileNotFoundError:  # deleted since it was listed
                continue
            found[name] = (st.st_size, st.st_mtime)
        return found


def local_path(store: ByteStore, name: str) -> Path:
    """Where a local store keeps that object (for checks on the data dir: doctor, tests).

    Raises:
        TypeError: the store is not a folder of the data dir.
    """
    if not isinstance(store, LocalByteStore):
        raise TypeError(f"{name} is not stored in the data dir")
    return store.path(name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
