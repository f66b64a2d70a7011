"""Engine and sessions for the catalog (SQLite by default, any SQLAlchemy URL works).

SQLite is shared by the API and every worker process. WAL lets readers run beside a writer, and
write transactions start with `BEGIN IMMEDIATE`: a deferred transaction that reads and then
writes fails at once with SQLITE_BUSY when another process committed in between, while an
immediate one waits its turn on the busy timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from catalog.models import Base

SQLITE_BUSY_TIMEOUT_S = 60


class Database:
    """Two session factories over one database: read (deferred) and write (serialised)."""

    def __init__(self, url: str, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
        """`busy_timeout_s`: how long an SQLite statement waits for another writer before it fails
        with "database is locked"."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.busy_timeout_s = busy_timeout_s
        self.write_engine = self._engine(immediate=True)
        self.read_engine = self._engine(immediate=False) if self.is_sqlite else self.write_engine
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    def _engine(self, *, immediate: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, pool_pre_ping=True)
        engine = create_engine(
            self.url,
            connect_args={"timeout": self.busy_timeout_s, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def create_all(self) -> None:
        Base.metadata.create_all(self.write_engine)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()
