"""The worker process's ingestion context, installed once before the pool forks."""

from __future__ import annotations

from ingestion.pipeline import IngestionContext

_context: IngestionContext | None = None


def install(context: IngestionContext) -> None:
    global _context
    _context = context


def current() -> IngestionContext:
    if _context is None:
        raise RuntimeError("no ingestion context: start the worker with `kb-server worker`")
    return _context
