"""Stored bytes in the catalog's PostgreSQL (`storage.backend: database`): a `ByteStore` whose
objects are rows of `stored_objects`, their content 1 MiB bytea rows of `stored_chunks`.

An object is written in one transaction (its row, every chunk, then its size): it is visible
whole at the commit or not at all, and a writer that dies half-way leaves nothing behind, since
PostgreSQL rolls the transaction back. Reads take one REPEATABLE READ snapshot and fetch chunk by
chunk, so a 200 MiB upload streams through a process without ever being held in memory, and an
object deleted meanwhile is still read whole.

The store has an engine (a connection pool) of its own: the upload path writes bytes while the
registering transaction holds a catalog connection (see `repository.register_file`), and sharing
one pool could leave every connection waiting on a second one.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from catalog.models import StoredChunk, StoredObject, utcnow

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


class DatabaseByteStore:
    """The objects of one bucket (`uploads`, `kbs`) in the catalog at `url`."""

    def __init__(self, url: str, bucket: str, tmp_dir: Path, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.url, self.bucket, self.tmp_dir, self.chunk_bytes = url, bucket, tmp_dir, chunk_bytes
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            # A forked worker process must not use (or close) its parent's connections.
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)
                self._engine = create_engine(self.url, pool_pre_ping=True, pool_size=2, max_overflow=8)
                self._pid = os.getpid()
            return self._engine

    def write(self, name: str, blocks: Iterable[bytes]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(StoredObject).where(*self._named(name)))
                object_id = conn.scalar(
                    insert(StoredObject)
                    .values(bucket=self.bucket, name=name, size=0, chunks=0, created_at=utcnow())
                    .returning(StoredObject.id)
                )
                seq = size = 0
                for piece in _pieces(blocks, self.chunk_bytes):
                    conn.execute(insert(StoredChunk).values(object_id=object_id, seq=seq, data=piece))
                    seq, size = seq + 1, size + len(piece)
                conn.execute(update(StoredObject).where(StoredObject.id == object_id).values(size=size, chunks=seq))
        except IntegrityError:
            # Another process wrote that name at the same moment and committed first. Names are
            # content addresses or one run's own, so its bytes are the same as ours.
            log.info("stored object %s/%s was written concurrently; the first write stands", self.bucket, name)

    def move_in(self, name: str, path: Path) -> None:
        with path.open("rb") as handle:
            self.write(name, iter(lambda: handle.read(self.chunk_bytes), b""))
        path.unlink(missing_ok=True)

    def read(self, name: str) -> bytes | None:
        with self._snapshot() as conn:
            found = self._find(conn, name)
            if found is None:
                return None
            return b"".join(self._chunks(conn, *found))

    @contextmanager
    def local_file(self, name: str) -> Iterator[Path | None]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix="stored-")
        path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle, self._snapshot() as conn:
                found = self._find(conn, name)
                for piece in self._chunks(conn, *found) if found else ():
                    handle.write(piece)
            yield path if found is not None else None
        finally:
            path.unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(StoredObject.id).where(*self._named(name))) is not None

    def delete(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(StoredObject).where(*self._named(name)))

    def delete_folder(self, folder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(StoredObject).where(
                    StoredObject.bucket == self.bucket, StoredObject.name.startswith(f"{folder}/", autoescape=True)
                )
            )

    def folders(self, folder: str) -> list[str]:
        prefix = f"{folder}/" if folder else ""
        query = select(StoredObject.name).where(
            StoredObject.bucket == self.bucket, StoredObject.name.startswith(prefix, autoescape=True)
        )
        with self.engine.connect() as conn:
            rest = [name[len(prefix) :] for name in conn.scalars(query)]
        return sorted({r.split("/", 1)[0] for r in rest if "/" in r})

    def names(self, folder: str, start: str = "") -> list[str]:
        prefix = f"{folder}/" if folder else ""
        query = select(StoredObject.name).where(
            StoredObject.bucket == self.bucket, StoredObject.name.startswith(prefix + start, autoescape=True)
        )
        with self.engine.connect() as conn:
            found = list(conn.scalars(query.order_by(StoredObject.name)))
        return [n for n in found if "/" not in n[len(prefix) :]] if start else found

    def stats(self, folder: str = "") -> dict[str, tuple[int, float]]:
        prefix = f"{folder}/" if folder else ""
        query = select(StoredObject.name, StoredObject.size, StoredObject.created_at).where(
            StoredObject.bucket == self.bucket, StoredObject.name.startswith(prefix, autoescape=True)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(StoredObject.name)).all()
        return {
            str(n): (int(size), created.replace(tzinfo=created.tzinfo or UTC).timestamp()) for n, size, created in rows
        }

    def _named(self, name: str) -> list:
        return [StoredObject.bucket == self.bucket, StoredObject.name == name]

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            yield conn

    def _find(self, conn: Connection, name: str) -> tuple[int, int] | None:
        row = conn.execute(select(StoredObject.id, StoredObject.chunks).where(*self._named(name))).first()
        return None if row is None else (int(row[0]), int(row[1]))

    def _chunks(self, conn: Connection, object_id: int, count: int) -> Iterator[bytes]:
        """The object's chunks one query at a time: one in memory at once."""
        for seq in range(count):
            data = conn.scalar(
                select(StoredChunk.data).where(StoredChunk.object_id == object_id, StoredChunk.seq == seq)
            )
            if data is None:
                raise OSError(f"stored object {self.bucket}/{object_id} lacks chunk {seq}")
            yield bytes(data)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _pieces(blocks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of `blocks` cut again into pieces of `size` (the last one shorter)."""
    buffer = bytearray()
    for block in blocks:
        buffer += block
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
