"""Keep helper threads out of SQLite while the Celery pool forks a child.

A child forked while another thread of its parent is inside SQLite inherits SQLite's mutexes
(its allocator's, gdb showed) locked, with no thread left to release them: its first query then
waits forever, so a replacement pool process (after a kill, the memory guard or a time limit)
never takes a task. Measured here with a thread writing to the same WAL database: 5 of 120 forks
hung without this guard, none with it. A worker's recovery thread holds the guard
for each tick; `os.fork` waits until the tick is over.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_guard = threading.RLock()
_installed = False


def install() -> None:
    """Make every later `os.fork` of this process wait for threads inside `held()` (idempotent)."""
    global _installed
    if not _installed:
        os.register_at_fork(before=_guard.acquire, after_in_parent=_guard.release, after_in_child=_guard.release)
        _installed = True


@contextmanager
def held() -> Iterator[None]:
    with _guard:
        yield
