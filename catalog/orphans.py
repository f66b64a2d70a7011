"""The sweeper's view of the catalog: files whose work the queue lost, and putting them back.

Finding is only a hint; each write re-checks the orphan's condition in its own conditional UPDATE
(`still_orphaned`), so a file a worker took back in between is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from catalog.database import Database
from catalog.models import File, FileStatus, utcnow
from catalog.owners import is_dead_here


@dataclass(frozen=True)
class Orphan:
    file_id: int
    task_id: str | None
    attempts: int
    reason: str  # lease expired | reservation lost | not enqueued | stale queue
    owner: str | None = None
    queued_before: datetime | None = None  # not enqueued / stale queue: last change before this


def find_orphans(db: Database, queued_older_than_s: float, unsent_grace_s: float) -> list[Orphan]:
    """Files whose work the queue lost: expired or dead leases and reservations, queued rows never
    sent (after a grace period: an upload may be between its insert and its send), and rows queued
    long ago. Only a hint: `requeue` and `jobs.fail_orphan` re-check the condition as they write.
    """
    now = utcnow()
    with db.read() as s:
        rows = s.execute(
            select(
                File.id,
                File.task_id,
                File.attempts,
                File.status,
                File.enqueued,
                File.lease_owner,
                File.lease_expires_at,
            ).where(
                or_(
                    and_(File.status == FileStatus.PROCESSING),
                    and_(File.status == FileStatus.QUEUED, File.lease_owner.is_not(None)),
                    and_(
                        File.status == FileStatus.QUEUED,
                        File.enqueued.is_(False),
                        File.updated_at < now - timedelta(seconds=unsent_grace_s),
                    ),
                    and_(
                        File.status == FileStatus.QUEUED,
                        File.updated_at < now - timedelta(seconds=queued_older_than_s),
                    ),
                )
            )
        ).all()
    unsent_before = now - timedelta(seconds=unsent_grace_s)
    stale_before = now - timedelta(seconds=queued_older_than_s)
    found = []
    for fid, tid, attempts, status, enqueued, owner, expires in rows:
        lapsed = owner is not None and (is_dead_here(owner) or (expires is not None and _aware(expires) < now))
        if status == FileStatus.PROCESSING:
            reason = "lease expired" if lapsed else None
        elif owner is not None:
            reason = "reservation lost" if lapsed else None
        else:
            reason = "not enqueued" if not enqueued else "stale queue"
        if reason is not None:
            before = unsent_before if reason == "not enqueued" else stale_before
            found.append(Orphan(fid, tid, attempts, reason, owner, before if owner is None else None))
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def still_orphaned(orphan: Orphan, now: datetime) -> list[Any]:
    """The orphan's condition as SQL, so the write that acts on it re-checks it."""
    if orphan.reason in ("lease expired", "reservation lost"):
        status = FileStatus.PROCESSING if orphan.reason == "lease expired" else FileStatus.QUEUED
        held = [File.status == status, File.lease_owner == orphan.owner]
        if not is_dead_here(orphan.owner):
            held.append(File.lease_expires_at < now)
        return held
    queued = [File.status == FileStatus.QUEUED, File.lease_owner.is_(None), File.updated_at < orphan.queued_before]
    return [*queued, File.enqueued.is_(orphan.reason == "stale queue")]


def requeue(db: Database, orphan: Orphan) -> bool:
    """Put an orphan back to queued and unsent (keeping its task id), if it still is one."""
    now = utcnow()
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.id == orphan.file_id, *still_orphaned(orphan, now))
            .values(status=FileStatus.QUEUED, lease_owner=None, lease_expires_at=None, enqueued=False, updated_at=now)
        )
        return getattr(result, "rowcount", 0) == 1
