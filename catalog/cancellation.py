"""Cancelling ingestion: a queued or processing file becomes `cancelled`, with a reason.

The state change is one conditional UPDATE on the statuses that may be cancelled, so it races
safely with the worker: a claim after it finds nothing to take (`claim` takes only queued and
processing rows), and a run in progress loses its lease — its next progress report, renewal or
commit is refused, so it stops at its next stage boundary without writing. In the same
transaction the file's chunk rows go and its generation is reset, so search drops whatever an
earlier run had committed; the caller then deletes the segment and keyword files.

A cancelled file is ingested again by `repository.reset_for_reingest` (re-ingest, or an upload
of the same bytes), and the recovery sweeper never resurrects it (it looks only at queued and
processing rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from catalog.database import Database
from catalog.errors import Conflict, NotFound
from catalog.models import Chunk, File, FileStatus, KnowledgeBase, Task, utcnow

CANCELLABLE = (FileStatus.QUEUED, FileStatus.PROCESSING)
CANCELLED_CODE = "cancelled"
_SLICE = 500


class NotCancellable(Conflict):
    code = "not_cancellable"


@dataclass(frozen=True)
class CancelledFile:
    file_id: int
    task_id: str | None


def cancel_file(db: Database, kb_id: int, file_id: int, reason: str) -> CancelledFile | None:
    """Cancel one file; None if it was already cancelled (cancelling twice changes nothing).

    Raises:
        NotFound: no such file in this knowledge base.
        NotCancellable: the file is done or failed: there is nothing left to cancel.
    """
    cancelled = _cancel_where(db, kb_id, reason, File.id == file_id)
    if cancelled:
        return cancelled[0]
    with db.read() as s:
        status = s.scalar(select(File.status).where(File.id == file_id, File.kb_id == kb_id))
    if status is None:
        raise NotFound(f"file {file_id} does not exist in this knowledge base", code="file_not_found")
    if status == FileStatus.CANCELLED:
        return None
    raise NotCancellable(f"file {file_id} is {status}: only queued or processing files can be cancelled")


def cancel_pending(db: Database, kb_id: int, reason: str, file_ids: list[int] | None = None) -> list[CancelledFile]:
    """Cancel every queued or processing file of the knowledge base (only `file_ids`, if given)."""
    if file_ids is None:
        return _cancel_where(db, kb_id, reason)
    wanted = sorted(set(file_ids))
    cancelled: list[CancelledFile] = []
    for start in range(0, len(wanted), _SLICE):
        cancelled += _cancel_where(db, kb_id, reason, File.id.in_(wanted[start : start + _SLICE]))
    return cancelled


def _cancel_where(db: Database, kb_id: int, reason: str, *conditions: Any) -> list[CancelledFile]:
    now = utcnow()
    with db.write() as s:
        rows = s.execute(
            update(File)
            .where(File.kb_id == kb_id, File.status.in_(CANCELLABLE), *conditions)
            .values(
                status=FileStatus.CANCELLED,
                stage=None,
                progress=0.0,
                progress_current=0,
                progress_total=0,
                chunks=0,
                generation=0,
                error_code=CANCELLED_CODE,
                error=reason[:2000],
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(File.id, File.task_id)
        ).all()
        if not rows:
            return []
        dropped = 0
        # In slices: a KB may have thousands pending, more than one statement may bind.
        for start in range(0, len(rows), _SLICE):
            part = rows[start : start + _SLICE]
            # RETURNING gives the new generation (0): whether search changes is told by the chunks.
            result = s.execute(delete(Chunk).where(Chunk.file_id.in_([fid for fid, _ in part])))
            dropped += getattr(result, "rowcount", 0) or 0
            tasks = [tid for _, tid in part if tid]
            s.execute(
                update(Task).where(Task.id.in_(tasks)).values(state="REVOKED", error=reason[:2000], finished_at=now)
            )
        if dropped:
            s.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb_id).values(version=KnowledgeBase.version + 1))
        return [CancelledFile(fid, tid) for fid, tid in rows]
