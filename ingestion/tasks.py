"""Celery tasks: thin wrappers that handle retries, time limits and progress events."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from ingestion import runtime
from ingestion.catalog import jobs
from ingestion.errors import TransientError
from ingestion.pipeline import ingest
from ingestion.settings import IngestionSettings

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, TransientError, ConnectionError)


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
        context = runtime.current()

        def on_progress(stage: str, current: int, total: int, fraction: float) -> None:
            try:
                self.update_state(
                    state="PROGRESS",
                    meta={"file_id": file_id, "stage": stage, "current": current, "total": total, "progress": fraction},
                )
            except Exception:  # the database is the record; a missed event is harmless
                log.debug("progress event for file %s not sent", file_id, exc_info=True)

        try:
            outcome = ingest(context, int(file_id), on_progress)
        except SoftTimeLimitExceeded:
            reason = f"parsing and embedding took longer than {settings.task_soft_time_limit_s} s"
            jobs.fail(context.db, int(file_id), None, "timeout", reason)
            return {"file_id": file_id, "status": "failed", "error": reason}
        except TRANSIENT:
            raise  # retried with backoff by autoretry_for
        except Exception as exc:
            # A bug or an unforeseen fault: say so on the file rather than leave it queued forever.
            log.exception("file %s: ingestion failed unexpectedly", file_id)
            reason = f"internal error while ingesting: {type(exc).__name__}: {exc}"[:500]
            jobs.fail(context.db, int(file_id), None, "internal_error", reason)
            return {"file_id": file_id, "status": "failed", "error": reason}
        log.info("file %s: %s (%s chunks)", file_id, outcome.status, outcome.chunks)
        return asdict(outcome)
