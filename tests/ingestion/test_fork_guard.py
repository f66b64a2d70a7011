"""A pool process forked while the worker's recovery thread is inside SQLite must not hang."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from ingestion import fork_guard

pytestmark = pytest.mark.integration

FORKS = 40


def test_children_forked_while_a_guarded_thread_writes_to_sqlite_never_hang(tmp_path: Path) -> None:
    """Without the guard about 1 fork in 25 hangs here (the child waits forever on SQLite's
    allocator mutex, which the writing thread held at the fork); with it, none may."""
    path = tmp_path / "catalog.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x BLOB)")
    fork_guard.install()
    stop = threading.Event()

    def keep_writing() -> None:
        connection = sqlite3.connect(path, check_same_thread=False)
        while not stop.is_set():
            with fork_guard.held():
                connection.execute("INSERT INTO t VALUES (randomblob(100))")
                connection.commit()
                connection.execute("SELECT count(*) FROM t").fetchone()
        connection.close()

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    hung = 0
    try:
        for _ in range(FORKS):
            pid = os.fork()
            if pid == 0:  # the child: what a new pool process does first with the catalog
                signal.signal(signal.SIGALRM, signal.SIG_DFL)  # pytest's handler could not run inside SQLite
                signal.alarm(10)
                child = sqlite3.connect(path, timeout=0.5)
                child.execute("SELECT count(*) FROM t").fetchone()
                try:
                    child.execute("INSERT INTO t VALUES (1)")
                    child.commit()
                except sqlite3.OperationalError:  # busy: the parent's thread holds the write lock
                    pass
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            hung += os.WIFSIGNALED(status)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert hung == 0, f"{hung} of {FORKS} forked children hung in SQLite"
