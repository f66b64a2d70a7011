"""Catalog writes of the ingestion task: claim a file under a lease, report, commit or fail.

Every state change is one conditional UPDATE on the state it expects (owner, status, lease
expiry, run), the same on SQLite and PostgreSQL, so the database alone decides races: two
deliveries of one task never process a file at once, a run that lost its lease cannot commit or
fail the file, and the sweeper re-queues only what is still orphaned when its UPDATE runs. A lease
that is not renewed (its worker was killed) expires; a holder on this host that is gone
(`owners.is_dead_here`) is treated as expired at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from catalog import versions
from catalog.database import Database
from catalog.models import Chunk, File, FileStatus, KnowledgeBase, ProcessLock, Task, utcnow
from catalog.orphans import Orphan, still_orphaned
from catalog.owners import is_dead_here
from catalog.versions import Replaced


@dataclass(frozen=True)
class Claim:
    file_id: int
    kb_id: int
    sha256: str
    name: str
    mime: str
    attempts: int
    run: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    ordinal: int
    text: str
    meta: dict[str, Any]


def claim(db: Database, file_id: int, owner: str, lease_s: float) -> Claim | None:
    """Take the file for processing under a new run number, or None if it is done, gone or
    leased by a live holder. A holder on this host whose process is gone is taken over at once.
    """
    now = utcnow()
    dead_holder = _dead_holder(db, file_id)
    holder_ok = [File.lease_owner.is_(None), File.lease_expires_at.is_(None), File.lease_expires_at < now]
    if dead_holder is not None:
        holder_ok.append(File.lease_owner == dead_holder)
    with db.write() as s:
        row = s.execute(
            update(File)
            .where(
                File.id == file_id,
                File.status.in_([FileStatus.QUEUED, FileStatus.PROCESSING]),
                # A queued row's lease is a worker's reservation of the message: it never blocks.
                or_(File.status == FileStatus.QUEUED, *holder_ok),
            )
            .values(
                status=FileStatus.PROCESSING,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_s),
                attempts=File.attempts + 1,
                run=File.run + 1,
                error=None,
                error_code=None,
                updated_at=now,
            )
            .returning(File.id, File.kb_id, File.sha256, File.name, File.mime, File.attempts, File.run)
        ).first()
        return Claim(*row) if row is not None else None


def _dead_holder(db: Database, file_id: int) -> str | None:
    with db.read() as s:
        owner = s.scalar(select(File.lease_owner).where(File.id == file_id, File.status == FileStatus.PROCESSING))
    return owner if is_dead_here(owner) else None


def is_cancelled(db: Database, file_id: int) -> bool:
    with db.read() as s:
        return s.scalar(select(File.status).where(File.id == file_id)) == FileStatus.CANCELLED


def kb_embedder(db: Database, kb_id: int) -> tuple[str, int] | None:
    """The embedder identity and dimension the knowledge base is served with."""
    vectors = kb_vectors(db, kb_id)
    return (vectors.embedder, vectors.dim) if vectors is not None else None


@dataclass(frozen=True)
class KBVectors:
    """Whose vectors a KB holds and where: its embedder and its live segment set."""

    embedder: str
    dim: int
    segment_set: int


def kb_vectors(db: Database, kb_id: int) -> KBVectors | None:
    with db.read() as s:
        row = s.execute(
            select(KnowledgeBase.embedder, KnowledgeBase.dim, KnowledgeBase.segment_set).where(
                KnowledgeBase.id == kb_id
            )
        ).first()
        return KBVectors(row[0], int(row[1]), int(row[2])) if row is not None else None


class EmbedderSwitched(Exception):
    """The KB was switched to another embedder (a re-embed finished) while this run embedded."""


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


@dataclass(frozen=True)
class Completed:
    """A committed run; `replaced` are older versions it deleted (their stored files go next)."""

    replaced: list[Replaced]


def complete(
    db: Database,
    file_id: int,
    owner: str,
    run: int,
    chunks: Sequence[ChunkRow],
    cached: int = 0,
    segment_set: int = 0,
) -> Completed | None:
    """Make run `run` the file's generation: replace its chunks, mark it done and bump the KB
    version, in one transaction whose first write is the conditional UPDATE (on PostgreSQL it
    takes the row lock, so a re-ingest committing meanwhile is seen, never overwritten). The
    versions the file replaces leave in the same transaction (catalog/versions.py), which on
    PostgreSQL first takes the document's lock so that two of its versions never deadlock.
    The version bump is conditional on the KB's live `segment_set` being the one the run wrote
    its segment into.

    Returns None (and changes nothing) if the lease was lost meanwhile.

    Raises:
        EmbedderSwitched: the KB now serves another segment set (re-embedded); nothing changed.
    """
    with db.read() as s:  # a file's name and kb never change
        named = s.execute(select(File.kb_id, File.name).where(File.id == file_id)).first()
    if named is None:
        return None
    with db.write() as s:
        versions.lock_document(s, named[0], named[1])
        now = utcnow()
        row = s.execute(
            update(File)
            .where(
                File.id == file_id,
                File.lease_owner == owner,
                File.status == FileStatus.PROCESSING,
                File.run == run,
            )
            .values(
                status=FileStatus.DONE,
                stage=None,
                progress=1.0,
                chunks=len(chunks),
                cached_chunks=cached,
                generation=run,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(File.kb_id, File.task_id, File.replaces)
        ).first()
        if row is None:
            return None
        kb_id, task_id, replaces = row
        replaced = versions.take_over(s, kb_id, file_id, replaces, now)
        s.execute(delete(Chunk).where(Chunk.file_id == file_id))
        s.add_all(
            Chunk(id=c.id, file_id=file_id, kb_id=kb_id, ordinal=c.ordinal, text=c.text, meta=c.meta) for c in chunks
        )
        _finish_task(s, task_id, "SUCCESS", None, now)
        bumped = s.execute(
            update(KnowledgeBase)
            .where(KnowledgeBase.id == kb_id, KnowledgeBase.segment_set == segment_set)
            .values(version=KnowledgeBase.version + 1)
        )
        if getattr(bumped, "rowcount", 0) != 1:
            raise EmbedderSwitched(f"file {file_id}: the knowledge base was re-embedded meanwhile")
        return Completed(replaced)


def fail(db: Database, file_id: int, owner: str, code: str, reason: str) -> bool:
    """Mark the file failed with a reason, if `owner` still holds its lease."""
    return _fail_where(db, file_id, code, reason, File.lease_owner == owner, File.status == FileStatus.PROCESSING)


def fail_orphan(db: Database, orphan: Orphan, code: str, reason: str) -> bool:
    """Fail a file the sweeper found orphaned, only if it still is (same holder, still dead)."""
    return _fail_where(db, orphan.file_id, code, reason, *still_orphaned(orphan, utcnow()))


def fail_as_seen(db: Database, file_id: int, status: str, owner: str | None, code: str, reason: str) -> bool:
    """Fail the file only if it is still in the status, and held by the owner, it was seen with
    (an operator's repair: `kb-server doctor --repair`)."""
    held = File.lease_owner.is_(None) if owner is None else File.lease_owner == owner
    return _fail_where(db, file_id, code, reason, File.status == status, held)


def _fail_where(db: Database, file_id: int, code: str, reason: str, *conditions: Any) -> bool:
    now = utcnow()
    with db.write() as s:
        row = s.execute(
            update(File)
            .where(File.id == file_id, *conditions)
            .values(
                status=FileStatus.FAILED,
                error_code=code,
                error=reason[:2000],
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(File.kb_id, File.task_id, File.generation)
        ).first()
        if row is None:
            return False
        kb_id, task_id, generation = row
        _finish_task(s, task_id, "FAILURE", reason[:2000], now)
        if generation > 0:  # its old chunks leave search
            _bump_version(s, kb_id)
        return True


def release(db: Database, file_id: int, owner: str, *, count_attempt: bool = False) -> bool:
    """Hand the file back to the queue (worker shutting down, or a transient fault to retry).

    The attempt is not counted unless `count_attempt`: only crashes use up `max_attempts`.
    """
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.id == file_id, File.lease_owner == owner, File.status == FileStatus.PROCESSING)
            .values(
                status=FileStatus.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                attempts=File.attempts if count_attempt else File.attempts - 1,
                updated_at=utcnow(),
            )
        )
        return getattr(result, "rowcount", 0) == 1


def reserve(db: Database, file_id: int, owner: str, lease_s: float) -> bool:
    """Record that a worker holds the file's message (received, not started): if that worker
    dies, the reservation expires (or is seen dead at once on this host) and the sweeper re-sends
    the file instead of waiting for the broker's visibility timeout.
    """
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.id == file_id, File.status == FileStatus.QUEUED)
            .values(lease_owner=owner, lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        )
        return getattr(result, "rowcount", 0) == 1


def renew_reservations(db: Database, owner: str, lease_s: float) -> int:
    with db.write() as s:
        result = s.execute(
            update(File)
            .where(File.lease_owner == owner, File.status == FileStatus.QUEUED)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        )
        return int(getattr(result, "rowcount", 0) or 0)


def try_lock(db: Database, name: str, owner: str, ttl_s: float) -> bool:
    """Hold the named process lock for `ttl_s` (taking it if free or expired, renewing if ours)."""
    now = utcnow()
    with db.write() as s:
        result = s.execute(
            update(ProcessLock)
            .where(
                ProcessLock.name == name,
                or_(ProcessLock.owner.is_(None), ProcessLock.owner == owner, ProcessLock.expires_at < now),
            )
            .values(owner=owner, expires_at=now + timedelta(seconds=ttl_s))
        )
        return getattr(result, "rowcount", 0) == 1


def _bump_version(s: Any, kb_id: int) -> None:
    s.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb_id).values(version=KnowledgeBase.version + 1))


def _finish_task(s: Any, task_id: str | None, state: str, error: str | None, now: datetime) -> None:
    if task_id:
        s.execute(update(Task).where(Task.id == task_id).values(state=state, error=error, finished_at=now))
