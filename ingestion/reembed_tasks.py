"""The Celery task that stages one file of a re-embed job: retries only; the work is `reembed.stage_file`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from catalog import reembed as catalog_reembed
from ingestion import runtime
from ingestion.errors import transient_faults
from ingestion.reembed import check_job, fail, stage_file
from ingestion.settings import IngestionSettings

log = logging.getLogger(__name__)

REEMBED_TASK = "kb.reembed_file"
CHECK_TASK = "kb.reembed_check"


def register_reembed_tasks(app: Celery, settings: IngestionSettings) -> None:
    @app.task(
        name=REEMBED_TASK,
        bind=True,
        acks_late=True,  # safe: staging a file again rewrites the same segment and row
        reject_on_worker_lost=True,
        soft_time_limit=settings.task_soft_time_limit_s,
        time_limit=settings.task_time_limit_s,
        autoretry_for=transient_faults(),
        retry_backoff=True,
        retry_backoff_max=60,
        max_retries=settings.transient_retries,
    )
    def reembed_file(self: Task, job_id: int, file_id: int) -> dict[str, Any]:
        context = runtime.current()
        try:
            status = stage_file(context, int(job_id), int(file_id))
        except SoftTimeLimitExceeded:
            job = catalog_reembed.get(context.db, int(job_id))
            if job is not None:
                fail(
                    context.db,
                    context.segments,
                    job,
                    f"file {file_id}: embedding took longer than {settings.task_soft_time_limit_s} s",
                )
            status = "failed"
        return {"job_id": job_id, "file_id": file_id, "status": status}

    @app.task(name=CHECK_TASK, acks_late=True, autoretry_for=transient_faults(), retry_backoff=True, max_retries=5)
    def reembed_check(job_id: int) -> dict[str, Any]:
        # A stalled job: switch it if it is complete, else send its missing files again.
        context = runtime.current()
        missing = check_job(context, int(job_id))
        for file_id in missing:
            send_reembed(app, int(job_id), file_id)
        return {"job_id": job_id, "resent": missing}


def send_check(app: Celery, job_id: int) -> bool:
    try:
        app.send_task(CHECK_TASK, args=[job_id], retry=True)
    except Exception as exc:
        log.warning("re-embed %s: check not sent (broker unreachable): %s", job_id, exc)
        return False
    return True


def send_reembed(app: Celery, job_id: int, file_id: int) -> bool:
    """Publish one file's staging; False if the broker is unreachable."""
    try:
        app.send_task(REEMBED_TASK, args=[job_id, file_id], retry=True)
    except Exception as exc:
        log.warning("re-embed %s: file %s not sent (broker unreachable): %s", job_id, file_id, exc)
        return False
    return True
