"""Celery tasks: thin wrappers that handle retries, time limits and stage timings."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from catalog import jobs
from catalog.owners import new_owner
from ingestion import runtime
from ingestion.errors import transient_faults
from ingestion.log_context import ingestion_context
from ingestion.pipeline import ingest
from ingestion.settings import IngestionSettings

log = logging.getLogger(__name__)

TRANSIENT = transient_faults()


def register_tasks(app: Celery, settings: IngestionSettings) -> None:
    @app.task(
        name="kb.ingest_file",
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=settings.task_soft_time_limit_s,
        time_limit=settings.task_time_limit_s,
        autoretry_for=TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=settings.transient_retries,
    )
    def ingest_file(self: Task, file_id: int) -> dict[str, Any]:
        with ingestion_context(self.request.id, int(file_id)):
            return _ingest_file(int(file_id), settings)


def _ingest_file(file_id: int, settings: IngestionSettings) -> dict[str, Any]:
    # Progress goes to the catalog (the pipeline writes it), not to a Celery result backend:
    # nothing reads Celery's task states, and with RabbitMQ there is no backend.
    context = runtime.current()
    timer = StageTimer()

    def on_progress(stage: str, current: int, total: int, fraction: float) -> None:
        timer.at(stage)

    owner = new_owner()
    try:
        outcome = ingest(context, file_id, owner, on_progress)
    except SoftTimeLimitExceeded:
        reason = f"parsing and embedding took longer than {settings.task_soft_time_limit_s} s"
        jobs.fail(context.db, file_id, owner, "timeout", reason)
        runtime.metrics().run("failed", timer.stages)
        return {"file_id": file_id, "status": "failed", "error": reason}
    except TRANSIENT:
        raise  # retried with backoff by autoretry_for; the pipeline gave the attempt back
    except Exception as exc:
        # A bug or an unforeseen fault: say so on the file rather than leave it queued forever.
        log.exception("file %s: ingestion failed unexpectedly", file_id)
        reason = f"internal error while ingesting: {type(exc).__name__}: {exc}"[:500]
        jobs.fail(context.db, file_id, owner, "internal_error", reason)
        runtime.metrics().run("failed", timer.stages)
        return {"file_id": file_id, "status": "failed", "error": reason}
    timer.finish()
    runtime.metrics().run(outcome.status, timer.stages)
    log.info(
        "file %s: %s (%s chunks, %s from the vector cache, replaced %s)",
        file_id,
        outcome.status,
        outcome.chunks,
        outcome.cached,
        outcome.replaced or "none",
    )
    return asdict(outcome)


class StageTimer:
    """Turns the pipeline's progress reports into per-stage durations (stages that ended)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._stage: str | None = None
        self._since = 0.0

    def at(self, stage: str) -> None:
        if stage != self._stage:
            self.finish()
            self._stage, self._since = stage, time.monotonic()

    def finish(self) -> None:
        if self._stage is not None:
            self.stages[self._stage] = self.stages.get(self._stage, 0.0) + time.monotonic() - self._since
            self._stage = None
