"""The worker process's ingestion context and metrics, installed once before the pool forks."""

from __future__ import annotations

from ingestion.context import IngestionContext
from ingestion.metrics import MetricsRecorder

_context: IngestionContext | None = None
_metrics = MetricsRecorder(None)  # records nothing until the worker installs its own


def install(context: IngestionContext, metrics: MetricsRecorder | None = None) -> None:
    global _context, _metrics
    _context = context
    if metrics is not None:
        _metrics = metrics


def current() -> IngestionContext:
    if _context is None:
        raise RuntimeError("no ingestion context: start the worker with `kb-server worker`")
    return _context


def metrics() -> MetricsRecorder:
    return _metrics
