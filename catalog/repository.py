"""Catalog reads and writes used by the API: knowledge bases, files, tasks, chunks.

Stored bytes are shared by every file with the same sha256, in any knowledge base, and may be
written and deleted by any process on the data dir (API processes, `KBVectorStore.open`, doctor).
So whether they may be deleted is decided in the database: placing the bytes and registering a
file that refers to them is one write transaction, "no file refers to them" and deleting them is
another, and both hold the sha256's lock — on SQLite the write lock that BEGIN IMMEDIATE takes, on
PostgreSQL a transaction-scoped advisory lock keyed by the sha256. They never interleave: either
the file is registered first and the bytes stay, or they are deleted first and the upload puts
them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import conversations, versions
from catalog.database import Database
from catalog.errors import Conflict, NotFound
from catalog.models import Chunk, File, FileStatus, KnowledgeBase, Task, utcnow


def create_kb(db: Database, name: str, description: str, embedder: str, dim: int) -> KnowledgeBase:
    """Create a knowledge base.

    Raises:
        Conflict: the name is taken.
    """
    try:
        with db.write() as s:
            kb = KnowledgeBase(name=name, description=description, embedder=embedder, dim=dim)
            s.add(kb)
            s.flush()
            return kb
    except IntegrityError as exc:
        raise Conflict(f"knowledge base {name!r} already exists", code="kb_exists") from exc


def list_kbs(db: Database) -> list[tuple[KnowledgeBase, int, int]]:
    """Every knowledge base with its file and chunk counts."""
    with db.read() as s:
        files = (
            select(File.kb_id, func.count(File.id).label("n"), func.sum(File.chunks).label("c"))
            .group_by(File.kb_id)
            .subquery()
        )
        rows = s.execute(
            select(KnowledgeBase, files.c.n, files.c.c)
            .outerjoin(files, files.c.kb_id == KnowledgeBase.id)
            .order_by(KnowledgeBase.name)
        ).all()
        return [(kb, int(n or 0), int(c or 0)) for kb, n, c in rows]


def get_kb(db: Database, name: str) -> KnowledgeBase:
    """Raises: NotFound."""
    with db.read() as s:
        kb = s.scalar(select(KnowledgeBase).where(KnowledgeBase.name == name))
        if kb is None:
            raise NotFound(f"knowledge base {name!r} does not exist", code="kb_not_found")
        return kb


def delete_kb(db: Database, kb_id: int) -> list[str]:
    """Delete a knowledge base with its files, chunks and conversations; returns the sha256s it referenced."""
    with db.write() as s:
        name = s.scalar(select(KnowledgeBase.name).where(KnowledgeBase.id == kb_id))
        if name is not None:
            conversations.forget_kb(s, name)
        shas = list(s.scalars(select(File.sha256).where(File.kb_id == kb_id)))
        s.execute(delete(Chunk).where(Chunk.kb_id == kb_id))
        s.execute(delete(Task).where(Task.file_id.in_(select(File.id).where(File.kb_id == kb_id))))
        s.execute(delete(File).where(File.kb_id == kb_id))
        s.execute(delete(KnowledgeBase).where(KnowledgeBase.id == kb_id))
        return shas


@dataclass(frozen=True)
class Registration:
    file: File
    created: bool


def register_file(
    db: Database,
    kb_id: int,
    sha256: str,
    name: str,
    size: int,
    mime: str,
    task_id: str,
    place: Callable[[], object] | None = None,
    *,
    source_url: str | None = None,
    replace_name: bool = False,
    replace_source: bool = False,
) -> Registration:
    """Record an upload, or find the file with the same bytes already in this knowledge base.

    With `replace_name`, a file of the same name already there makes this one its next version
    (catalog/versions.py): `replaces` and `version` are set, and the old one serves until this one
    is done. `replace_source` does the same for a file fetched from the same `source_url`, and this
    one takes that file's name.

    `place` puts the bytes in the store; it runs under the sha256's lock, in the transaction that
    registers the file, so `collect_blob` cannot delete them in between. The UNIQUE(kb_id, sha256)
    constraint is what makes concurrent duplicate uploads safe, UNIQUE(kb_id, replaces) what makes
    concurrent new versions a chain.

    Raises:
        Exception: what `place` raises; nothing is registered then.
    """
    try:
        with _blob_transaction(db, sha256) as s:
            if place is not None:
                place()
            for _ in range(_VERSION_TRIES):
                existing = s.scalar(select(File).where(File.kb_id == kb_id, File.sha256 == sha256))
                if existing is not None:
                    return Registration(existing, created=False)
                previous = _previous_version(s, kb_id, name, source_url, replace_name, replace_source)
                file = File(
                    kb_id=kb_id,
                    sha256=sha256,
                    name=previous.name if previous and replace_source else name,
                    size=size,
                    mime=mime,
                    task_id=task_id,
                    source_url=source_url,
                    version=previous.version + 1 if previous else 1,
                    replaces=previous.id if previous else None,
                )
                try:
                    with s.begin_nested():  # lost a race (PostgreSQL): look again, in this transaction
                        s.add(file)
                        s.flush()
                except IntegrityError:
                    continue
                s.add(Task(id=task_id, file_id=file.id))
                return Registration(file, created=True)
            raise Conflict(f"{name!r} is being replaced by other uploads right now; try again", code="version_race")
    except IntegrityError:
        existing = _file_by_sha(db, kb_id, sha256)
        if existing is None:
            raise
        return Registration(existing, created=False)


# Uploads of new versions of one file racing (PostgreSQL only: SQLite writers take turns).
_VERSION_TRIES = 8


def _previous_version(
    s: Session, kb_id: int, name: str, source_url: str | None, replace_name: bool, replace_source: bool
) -> File | None:
    if replace_source and source_url:
        return versions.tip_of_source(s, kb_id, source_url)
    return versions.tip(s, kb_id, name) if replace_name else None


def collect_blob(db: Database, sha256: str, delete_bytes: Callable[[], object]) -> bool:
    """Delete stored bytes (`delete_bytes`) if no file refers to them; True if they were deleted.

    Decided and done under the sha256's lock, so an upload registering the same bytes in another
    process either comes first (the bytes stay) or after (it puts them back).
    """
    with _blob_transaction(db, sha256) as s:
        if s.scalar(select(func.count(File.id)).where(File.sha256 == sha256)):
            return False
        delete_bytes()
        return True


# PostgreSQL advisory locks of stored bytes: (this namespace, 32 bits of the sha256). The two-key
# form never meets the one-key lock of the migrations; two digests sharing 32 bits only wait.
_BLOB_LOCK_NAMESPACE = 0x6B62_6C62  # "kblb"


@contextmanager
def _blob_transaction(db: Database, sha256: str) -> Iterator[Session]:
    with db.write() as s:
        match db.write_engine.dialect.name:
            case "sqlite":
                s.connection()  # BEGIN IMMEDIATE now: one writer at a time across every process
            case "postgresql":
                key = int(sha256[:8], 16)
                if key >= 1 << 31:  # as a signed int4
                    key -= 1 << 32
                s.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": _BLOB_LOCK_NAMESPACE, "key": key})
            case other:
                raise NotImplementedError(f"no lock for stored bytes on {other}: use SQLite or PostgreSQL")
        yield s


def _file_by_sha(db: Database, kb_id: int, sha256: str) -> File | None:
    with db.read() as s:
        return s.scalar(select(File).where(File.kb_id == kb_id, File.sha256 == sha256))


def count_pending(db: Database) -> int:
    """Files queued or being processed, across every knowledge base."""
    with db.read() as s:
        return int(
            s.scalar(select(func.count(File.id)).where(File.status.in_([FileStatus.QUEUED, FileStatus.PROCESSING])))
            or 0
        )


def mark_enqueued(db: Database, file_id: int, task_id: str) -> None:
    with db.write() as s:
        s.execute(update(File).where(File.id == file_id, File.task_id == task_id).values(enqueued=True))


def list_files(db: Database, kb_id: int) -> Sequence[File]:
    with db.read() as s:
        return s.scalars(select(File).where(File.kb_id == kb_id).order_by(File.id)).all()


def get_file(db: Database, kb_id: int, file_id: int) -> File:
    """Raises: NotFound."""
    with db.read() as s:
        file = s.scalar(select(File).where(File.id == file_id, File.kb_id == kb_id))
        if file is None:
            raise NotFound(f"file {file_id} does not exist in this knowledge base", code="file_not_found")
        return file


def delete_file(db: Database, kb_id: int, file_id: int) -> File:
    """Delete a file's row and chunks and bump the KB's version, in one transaction.

    Raises:
        NotFound: no such file in this knowledge base.
    """
    with db.write() as s:
        file = s.scalar(select(File).where(File.id == file_id, File.kb_id == kb_id))
        if file is None:
            raise NotFound(f"file {file_id} does not exist in this knowledge base", code="file_not_found")
        s.execute(delete(Chunk).where(Chunk.file_id == file_id))
        s.execute(delete(Task).where(Task.file_id == file_id))
        s.delete(file)
        _bump_version(s, kb_id)
        return file


def reset_for_reingest(db: Database, kb_id: int, file_id: int, task_id: str) -> File:
    """Queue a file again under a new task id; its chunks stay searchable until the rerun commits.

    One conditional UPDATE that also takes the lease away, so a run still going cannot commit or
    fail the file afterwards: it stops, and the new task does the work.

    Raises:
        NotFound: no such file in this knowledge base.
    """
    file = _requeue(db, kb_id, file_id, task_id)
    if file is None:
        raise NotFound(f"file {file_id} does not exist in this knowledge base", code="file_not_found")
    return file


def requeue_cancelled(db: Database, kb_id: int, file_id: int, task_id: str) -> File | None:
    """Queue a cancelled file again (its bytes were uploaded again); None if it is not cancelled."""
    return _requeue(db, kb_id, file_id, task_id, File.status == FileStatus.CANCELLED)


def _requeue(db: Database, kb_id: int, file_id: int, task_id: str, *conditions: Any) -> File | None:
    with db.write() as s:
        file_row = s.execute(
            update(File)
            .where(File.id == file_id, File.kb_id == kb_id, *conditions)
            .values(
                status=FileStatus.QUEUED,
                stage=None,
                progress=0.0,
                progress_current=0,
                progress_total=0,
                error=None,
                error_code=None,
                attempts=0,
                task_id=task_id,
                enqueued=False,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=utcnow(),
            )
            .returning(File.id)
        ).first()
        if file_row is None:
            return None
        s.add(Task(id=task_id, file_id=file_id))
        s.flush()
        return s.get_one(File, file_id)


def get_task(db: Database, task_id: str) -> tuple[Task, File]:
    """Raises: NotFound."""
    with db.read() as s:
        row = s.execute(select(Task, File).join(File, File.id == Task.file_id).where(Task.id == task_id)).first()
        if row is None:
            raise NotFound(f"task {task_id!r} is unknown", code="task_not_found")
        return row[0], row[1]


def searchable() -> list:
    """Files with a committed segment: done, or being re-ingested (old chunks serve until the rerun commits)."""
    return [File.generation > 0, File.status.not_in([FileStatus.FAILED, FileStatus.CANCELLED])]


def done_generations(db: Database, kb_id: int) -> tuple[int, dict[int, int]]:
    """The KB's version and {file_id: generation} of its searchable files, read in one snapshot."""
    with db.read() as s:
        version = s.scalar(select(KnowledgeBase.version).where(KnowledgeBase.id == kb_id))
        rows = s.execute(select(File.id, File.generation).where(File.kb_id == kb_id, *searchable())).all()
        return int(version or 0), {fid: gen for fid, gen in rows}


def kb_version(db: Database, kb_id: int) -> int:
    with db.read() as s:
        return int(s.scalar(select(KnowledgeBase.version).where(KnowledgeBase.id == kb_id)) or 0)


def chunks_by_ids(db: Database, kb_id: int, ids: Sequence[int]) -> dict[int, tuple[Chunk, str, str | None]]:
    """Chunks of searchable files by id, with their file names and source URLs; ids of deleted files are left out."""
    if not ids:
        return {}
    with db.read() as s:
        rows = s.execute(
            select(Chunk, File.name, File.source_url)
            .join(File, File.id == Chunk.file_id)
            .where(Chunk.id.in_(list(ids)), Chunk.kb_id == kb_id, *searchable())
        ).all()
        return {chunk.id: (chunk, name, url) for chunk, name, url in rows}


def chunk_texts(db: Database, file_id: int) -> list[tuple[int, str]]:
    """(chunk id, text) of one file, in order."""
    with db.read() as s:
        rows = s.execute(select(Chunk.id, Chunk.text).where(Chunk.file_id == file_id).order_by(Chunk.ordinal))
        return [(cid, text) for cid, text in rows]


def sha_in_use(db: Database, sha256: str) -> bool:
    with db.read() as s:
        return s.scalar(select(func.count(File.id)).where(File.sha256 == sha256)) != 0


def _bump_version(s: Session, kb_id: int) -> None:
    s.execute(update(KnowledgeBase).where(KnowledgeBase.id == kb_id).values(version=KnowledgeBase.version + 1))
