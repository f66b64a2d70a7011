"""A per-task memory ceiling for parsers we do not control.

Python cannot interrupt a C parser that is inflating a hostile document, and an address-space
rlimit would also break the model's allocators. So a side thread watches the process's resident
memory; past the limit it records the failure on the file (so it is not retried) and kills its
own process. Celery's pool replaces the child; the redelivered message finds the file failed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

import psutil

log = logging.getLogger(__name__)


class MemoryGuard:
    def __init__(self, limit_mb: int, on_exceeded: Callable[[int], None], interval_s: float = 0.2) -> None:
        self._limit = limit_mb * 1024 * 1024
        self._on_exceeded = on_exceeded
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="memory-guard", daemon=True)

    def __enter__(self) -> MemoryGuard:
        if self._limit > 0:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _watch(self) -> None:
        process = psutil.Process()
        while not self._stop.wait(self._interval):
            rss = process.memory_info().rss
            if rss > self._limit:
                log.error(
                    "task memory %d MiB is over the limit %d MiB: stopping this process", rss >> 20, self._limit >> 20
                )
                try:
                    self._on_exceeded(rss)
                finally:
                    os.kill(os.getpid(), signal.SIGKILL)
