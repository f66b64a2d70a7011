"""Dedicated, lower-priority threads for LLM generation.

llama.cpp saturates every core it is given. Running it on its own threads with a raised nice
value (its compute threads inherit it) lets the API's request threads win the CPU, so status
polls and uploads stay fast while answers are generated. The threads never serve HTTP, so their
lowered priority never leaks into request handling.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
_END = object()


def _lower_priority(nice: int) -> None:
    if nice <= 0:
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:
        log.debug("could not lower the priority of a generation thread", exc_info=True)


class GenerationPool:
    def __init__(self, workers: int, nice: int) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="llm-generate", initializer=_lower_priority, initargs=(nice,)
        )

    def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a generation thread and wait for its result (or exception)."""
        return self._pool.submit(fn).result()

    def stream(self, open_stream: Callable[[], Iterator[str]], deadline: float | None = None) -> Generator[str]:
        """Iterate `open_stream()` on a generation thread, handing items over through a queue.

        Closing the returned iterator stops the producer at its next item and closes its stream.
        With a `deadline` (time.monotonic()), waiting past it raises TimeoutError (and stops the producer).
        """
        items: queue.Queue[object] = queue.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            source = None
            try:
                source = open_stream()
                for item in source:
                    if cancelled.is_set():
                        break
                    items.put(item)
                items.put(_END)
            except BaseException as exc:
                items.put(exc)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()

        self._pool.submit(produce)
        try:
            while True:
                try:
                    item = items.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise TimeoutError("generation passed its deadline") from None
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield str(item)
        finally:
            cancelled.set()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
