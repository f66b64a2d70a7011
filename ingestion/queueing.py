"""Sending ingestion work to the broker, and finding work the broker lost."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery

from catalog import jobs, orphans, reembed, repository
from catalog.database import Database
from ingestion.broker import queue_depth
from ingestion.reembed_tasks import send_check
from ingestion.settings import IngestionSettings

log = logging.getLogger(__name__)

INGEST_TASK = "kb.ingest_file"


def send_ingest(app: Celery, db: Database, file_id: int, task_id: str) -> bool:
    """Publish the ingestion task; False if the broker is unreachable.

    The row stays `queued` with `enqueued = false` on failure, and the sweeper sends it later:
    the database, not the broker, is the record.
    """
    try:
        app.send_task(INGEST_TASK, args=[file_id], task_id=task_id, retry=True)
    except Exception as exc:
        log.warning("file %s: broker unreachable, will retry later: %s", file_id, exc)
        return False
    repository.mark_enqueued(db, file_id, task_id)
    return True


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    failed: int
    skipped: bool = False  # another process holds the sweeper lock
    idle: bool = False  # the queue's waiting list was empty


SWEEPER_LOCK = "sweeper"


def sweep(app: Celery, db: Database, broker_url: str, settings: IngestionSettings, owner: str) -> SweepReport:
    """Re-send files whose work was lost: expired or dead leases and reservations, unsent rows,
    and a queue that emptied while rows still wait (a broker restarted without its data). Files that
    used up their attempts fail as `parse_crash` instead of looping.

    Every API process and worker calls this; the `sweeper` lock in the database lets one process
    at a time (on any host) do the work, and each write re-checks the orphan's condition.
    """
    if not jobs.try_lock(db, SWEEPER_LOCK, owner, 2 * settings.recovery_interval_s + 5):
        return SweepReport(0, 0, skipped=True)
    # Only waiting messages count: those a killed worker held stay "unacked" in Redis until their
    # visibility timeout, and must not keep their files waiting that long (RabbitMQ requeues them
    # as soon as the worker's connection drops).
    try:
        idle = queue_depth(broker_url, settings.queue_name) == 0
    except Exception:
        idle = False
    requeued = failed = 0
    for orphan in orphans.find_orphans(db, settings.stale_queued_s, settings.unsent_grace_s):
        if orphan.reason == "stale queue" and not idle:
            continue
        if orphan.attempts >= settings.max_attempts and orphan.reason == "lease expired":
            reason = f"the worker died {orphan.attempts} times while processing this file"
            if jobs.fail_orphan(db, orphan, "parse_crash", reason):
                failed += 1
            continue
        if orphans.requeue(db, orphan) and orphan.task_id and send_ingest(app, db, orphan.file_id, orphan.task_id):
            requeued += 1
    if requeued or failed:
        log.info("recovery: %s file(s) sent again, %s failed", requeued, failed)
    for job_id in reembed.stalled(db, settings.stale_queued_s):
        log.info("recovery: re-embed %s made no progress lately; checking it", job_id)
        send_check(app, job_id)
    return SweepReport(requeued, failed, idle=idle)
