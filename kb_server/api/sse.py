"""Server-Sent Events framing, and running a blocking iterator off the event loop."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool


def sse_event(event: str | None, data: Any) -> str:
    """One SSE frame; `data` is JSON-encoded so newlines in text cannot break the framing."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


async def in_threads(frames: Iterator[str]) -> AsyncIterator[str]:
    """Yield a blocking generator's items, each produced in a worker thread; close it when the
    client goes away, so a generation slot is never held by a dead connection."""
    try:
        async for frame in iterate_in_threadpool(frames):
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            # ValueError: still running in its thread; it is closed when collected instead.
            with contextlib.suppress(ValueError):
                close()
