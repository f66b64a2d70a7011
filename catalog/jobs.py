"""Catalog writes of the ingestion task: claim a file under a lease, report, commit or fail.

A claim is one conditional UPDATE, so two deliveries of the same task (a redelivered message, the
recovery sweeper) never process one file at once: the second finds the lease held and steps back.
A lease that is not renewed (its worker was killed) expires, and the sweeper queues the file again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from catalog.database import Database
from catalog.models import Chunk, File, FileStatus, KnowledgeBase, Task, utcnow


@dataclass(frozen=True)
class Claim:
    file_id: int
    kb_id: int
    sha256: str
    name: str
    mime: str
    attempts: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    ordinal: int
    text: str
    meta: dict[str, Any]


def claim(db: Database, file_id: int, owner: str, lease_s: float) -> Claim | None:
    """Take the file for processing, or return None if it is done, gone or leased by another."""
    now = utcnow()
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(
                File.id == file_id,
                File.status != FileStatus.DONE,
                File.status != FileStatus.FAILED,
                or_(
                    File.status != FileStatus.PROCESSING,
                    File.lease_expires_at.is_(None),
                    File.lease_expires_at < now,
                    File.lease_owner == owner,
                ),
            )
            .values(
                status=FileStatus.PROCESSING,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempts=File.attempts + 1,
                error=None,
                error_code=None,
                updated_at=now,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        file = s.get_one(File, file_id)
        return Claim(file.id, file.kb_id, file.sha256, file.name, file.mime, file.attempts)


def renew(db: Database, file_id: int, owner: str, lease_s: float) -> bool:
    """Extend the lease; False when it was lost (file deleted, re-queued or taken over)."""
    now = utcnow()
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.id == file_id, File.lease_owner == owner, File.status == FileStatus.PROCESSING)
            .values(lease_expires_at=now + timedelta(seconds=lease_s))
        )
        return getattr(result, "rowcount", 0) == 1


def report(db: Database, file_id: int, owner: str, stage: str, current: int, total: int, progress: float) -> bool:
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.id == file_id, File.lease_owner == owner, File.status == FileStatus.PROCESSING)
            .values(
                stage=stage,
                progress_current=current,
                progress_total=total,
                progress=round(min(max(progress, 0.0), 1.0), 4),
                updated_at=utcnow(),
            )
        )
        return getattr(result, "rowcount", 0) == 1


def complete(db: Database, file_id: int, owner: str, chunks: Sequence[ChunkRow]) -> bool:
    """Replace the file's chunks, mark it done and bump the KB version, atomically.

    Returns False (and changes nothing) if the lease was lost meanwhile.
    """
    now = utcnow()
    with db.write() as s:
        file = s.scalar(
            select(File).where(File.id == file_id, File.lease_owner == owner, File.status == FileStatus.PROCESSING)
        )
        if file is None:
            return False
        s.execute(delete(Chunk).where(Chunk.file_id == file_id))
        s.add_all(
            Chunk(id=c.id, file_id=file_id, kb_id=file.kb_id, ordinal=c.ordinal, text=c.text, meta=c.meta)
            for c in chunks
        )
        file.status = FileStatus.DONE
        file.stage = None
        file.progress = 1.0
        file.chunks = len(chunks)
        file.lease_owner = None
        file.lease_expires_at = None
        file.updated_at = now
        _finish_task(s, file.task_id, "SUCCESS", None, now)
        _bump_version(s, file.kb_id)
        # The KB's new version, never a generation the KB had before: SQLite hands a deleted
        # file's id to the next file, and a reader still holding the deleted file's segment under
        # that id must see a new generation, or it serves the old vectors with the new text.
        version = s.scalar(select(KnowledgeBase.version).where(KnowledgeBase.id == file.kb_id))
        file.generation = max(file.generation + 1, int(version or 0))
        return True


def fail(db: Database, file_id: int, owner: str | None, code: str, reason: str) -> bool:
    """Mark the file failed with a reason (owner None: regardless of who holds it)."""
    now = utcnow()
    with db.write() as s:
        conditions = [File.id == file_id, File.status != FileStatus.DONE]
        if owner is not None:
            conditions.append(File.lease_owner == owner)
        file = s.scalar(select(File).where(*conditions))
        if file is None:
            return False
        file.status = FileStatus.FAILED
        file.error_code = code
        file.error = reason[:2000]
        file.lease_owner = None
        file.lease_expires_at = None
        file.updated_at = now
        _finish_task(s, file.task_id, "FAILURE", reason[:2000], now)
        if file.generation > 0:  # its old chunks leave search
            _bump_version(s, file.kb_id)
        return True


def release(db: Database, file_id: int, owner: str) -> None:
    """Hand the file back to the queue (worker shutting down or retrying later)."""
    with db.write() as s:
        s.execute(
            update(File)
            .where(File.id == file_id, File.lease_owner == owner)
            .values(status=FileStatus.QUEUED, lease_owner=None, lease_expires_at=None, updated_at=utcnow())
        )


def _bump_version(s: Any, kb_id: int) -> None:
    s.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb_id).values(version=KnowledgeBase.version + 1))


def _finish_task(s: Any, task_id: str | None, state: str, error: str | None, now: datetime) -> None:
    if task_id:
        s.execute(update(Task).where(Task.id == task_id).values(state=state, error=error, finished_at=now))


@dataclass(frozen=True)
class Orphan:
    file_id: int
    task_id: str | None
    attempts: int
    reason: str


def find_orphans(db: Database, queued_older_than_s: float) -> list[Orphan]:
    """Files whose work the queue lost: expired leases, and queued rows never (or long ago) sent."""
    now = utcnow()
    with db.read() as s:
        rows = s.execute(
            select(File.id, File.task_id, File.attempts, File.status, File.enqueued).where(
                or_(
                    and_(File.status == FileStatus.PROCESSING, File.lease_expires_at < now),
                    and_(File.status == FileStatus.QUEUED, File.enqueued.is_(False)),
                    and_(
                        File.status == FileStatus.QUEUED,
                        File.updated_at < now - timedelta(seconds=queued_older_than_s),
                    ),
                )
            )
        ).all()
    return [
        Orphan(
            fid,
            tid,
            attempts,
            "lease expired" if status == FileStatus.PROCESSING else "not enqueued" if not enq else "stale queue",
        )
        for fid, tid, attempts, status, enq in rows
    ]


def requeue(db: Database, file_id: int) -> None:
    """Put an orphan back to queued (keeping its task id) before it is sent again."""
    with db.write() as s:
        s.execute(
            update(File)
            .where(File.id == file_id, File.status.in_([FileStatus.PROCESSING, FileStatus.QUEUED]))
            .values(
                status=FileStatus.QUEUED, lease_owner=None, lease_expires_at=None, enqueued=False, updated_at=utcnow()
            )
        )
