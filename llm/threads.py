"""How many threads a generation should use right now.

llama.cpp's threads wait for each other after every layer, so when another process holds a core
(the ingestion worker, another service), a thread that loses its core stalls the rest: on 2 cores
with the machine busy, 60 tokens took 13.8 s with 2 threads and 8.9 s with 1. So each generation
starts with as many threads as there are cores nobody else is using, at least 1, at most
``llm.n_threads``.
"""

from __future__ import annotations

import os
import time

# /proc/loadavg's 4th field counts the threads runnable at this instant; a few readings a little
# apart keep a passing blip from deciding.
_SAMPLES = 3
_GAP_S = 0.01


def runnable_elsewhere(read: str | None = None) -> int | None:
    """Threads runnable on the machine besides the one asking; None where /proc is not there."""
    try:
        text = read if read is not None else _read_loadavg()
    except OSError:
        return None
    running = int(text.split()[3].split("/")[0])
    return max(0, running - 1)


def _read_loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return handle.read()


def threads_for_now(configured: int, cores: int | None = None) -> int:
    """``configured`` threads, fewer while other work keeps cores busy."""
    cores = cores or os.cpu_count() or 1
    busy: list[int] = []
    for i in range(_SAMPLES):
        if i:
            time.sleep(_GAP_S)
        others = runnable_elsewhere()
        if others is None:
            return configured
        busy.append(others)
    return choose_threads(configured, cores, min(busy))


def choose_threads(configured: int, cores: int, busy_elsewhere: int) -> int:
    return max(1, min(configured, cores - busy_elsewhere))
