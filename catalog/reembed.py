"""Catalog writes of a re-embed job: start it, record each file staged, switch the KB, or end it.

A job writes the KB's vectors again with another embedder into a segment set of its own (numbered
by the job's id) while the live set keeps serving. Each file staged is recorded with the
generation it was made from; the job is complete when every searchable file of the KB has its
*current* generation staged, so a file ingested or re-ingested meanwhile counts only once its new
chunks are staged too. The switch is one conditional UPDATE of the KB — embedder, dimension and
segment set together, on the version seen while checking — so readers go from the old embedder
and segments to the new ones at one KB version, never to a half-staged set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog import repository
from catalog.database import Database
from catalog.errors import Conflict
from catalog.models import Chunk, File, KnowledgeBase, ReembedJob, ReembedStaged, ReembedStatus, utcnow

# A switch whose conditional UPDATE lost to a concurrent change (PostgreSQL) checks again.
SWITCH_TRIES = 5


def start(
    db: Database, kb_id: int, preset: str, embedder: str, dim: int, from_preset: str | None
) -> tuple[ReembedJob, list[tuple[int, int]]]:
    """Record a running job for the KB, and return it with the files to stage: (file id, generation).

    The files are read after the job is committed: a file that completes before that is in the
    list, one that completes after it sees the job (`running`) and stages itself.

    Raises:
        Conflict: a re-embed of this KB is running (`reembed_running`).
    """
    try:
        with db.write() as s:
            from_set = s.scalar(select(KnowledgeBase.segment_set).where(KnowledgeBase.id == kb_id))
            job = ReembedJob(
                kb_id=kb_id,
                preset=preset,
                embedder=embedder,
                dim=dim,
                from_preset=from_preset,
                from_set=int(from_set or 0),
                status=ReembedStatus.RUNNING,
            )
            s.add(job)
            s.flush()
    except IntegrityError as exc:
        raise Conflict("a re-embed of this knowledge base is already running", code="reembed_running") from exc
    files = searchable_files(db, kb_id)
    with db.write() as s:
        s.execute(update(ReembedJob).where(ReembedJob.id == job.id).values(files_total=len(files)))
    job.files_total = len(files)
    return job, files


def searchable_files(db: Database, kb_id: int) -> list[tuple[int, int]]:
    with db.read() as s:
        return _searchable(s, kb_id)


def known_files(db: Database, kb_id: int) -> set[int]:
    """Ids of every file the KB has, in any status."""
    with db.read() as s:
        return set(s.scalars(select(File.id).where(File.kb_id == kb_id)))


def running(db: Database, kb_id: int) -> ReembedJob | None:
    with db.read() as s:
        return s.scalar(select(ReembedJob).where(ReembedJob.kb_id == kb_id, ReembedJob.status == ReembedStatus.RUNNING))


def latest(db: Database, kb_id: int) -> ReembedJob | None:
    with db.read() as s:
        return s.scalar(select(ReembedJob).where(ReembedJob.kb_id == kb_id).order_by(ReembedJob.id.desc()).limit(1))


def get(db: Database, job_id: int) -> ReembedJob | None:
    with db.read() as s:
        return s.get(ReembedJob, job_id)


@dataclass(frozen=True)
class StagingSource:
    """What a file's staging reads: the running job, the file's generation and its chunk texts."""

    job: ReembedJob
    generation: int
    chunks: list[tuple[int, str]]


def staging_source(db: Database, job_id: int, file_id: int) -> StagingSource | None:
    """The file's searchable generation and its chunks, in one snapshot; None when the job is not
    running or the file is no longer searchable (deleted, failed: nothing to stage)."""
    with db.read() as s:
        job = s.get(ReembedJob, job_id)
        if job is None or job.status != ReembedStatus.RUNNING:
            return None
        generation = s.scalar(
            select(File.generation).where(File.id == file_id, File.kb_id == job.kb_id, *repository.searchable())
        )
        if generation is None:
            return None
        rows = s.execute(select(Chunk.id, Chunk.text).where(Chunk.file_id == file_id).order_by(Chunk.ordinal))
        return StagingSource(job, int(generation), [(cid, text) for cid, text in rows])


def record_staged(db: Database, job_id: int, file_id: int, generation: int) -> bool:
    """Record that the file's `generation` is staged (its segment written); False if the job ended."""
    with db.write() as s:
        result = s.execute(
            update(ReembedJob)
            .where(ReembedJob.id == job_id, ReembedJob.status == ReembedStatus.RUNNING)
            .values(updated_at=utcnow())
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        s.execute(delete(ReembedStaged).where(ReembedStaged.job_id == job_id, ReembedStaged.file_id == file_id))
        s.add(ReembedStaged(job_id=job_id, file_id=file_id, generation=generation))
        return True


@dataclass(frozen=True)
class SwitchOutcome:
    switched: bool
    missing: list[tuple[int, int]]  # searchable (file id, generation) not staged yet
    job: ReembedJob | None


def try_switch(db: Database, job_id: int) -> SwitchOutcome:
    """Switch the KB to the job's embedder and set if every searchable file is staged; else
    record the progress. Safe to call from any number of processes: one switch wins."""
    for _ in range(SWITCH_TRIES):
        with db.write() as s:
            job = s.get(ReembedJob, job_id)
            if job is None or job.status != ReembedStatus.RUNNING:
                return SwitchOutcome(False, [], job)
            version = s.scalar(select(KnowledgeBase.version).where(KnowledgeBase.id == job.kb_id))
            files = _searchable(s, job.kb_id)
            rows = s.execute(
                select(ReembedStaged.file_id, ReembedStaged.generation).where(ReembedStaged.job_id == job_id)
            )
            staged = {fid: gen for fid, gen in rows}
            missing = [(fid, gen) for fid, gen in files if staged.get(fid) != gen]
            now = utcnow()
            counts = {"files_total": len(files), "files_done": len(files) - len(missing), "updated_at": now}
            if missing:
                s.execute(update(ReembedJob).where(ReembedJob.id == job_id).values(**counts))
                return SwitchOutcome(False, missing, job)
            result = s.execute(
                update(KnowledgeBase)
                .where(
                    KnowledgeBase.id == job.kb_id,
                    KnowledgeBase.segment_set == job.from_set,
                    KnowledgeBase.version == version,
                )
                .values(embedder=job.embedder, dim=job.dim, segment_set=job.id, version=KnowledgeBase.version + 1)
            )
            if getattr(result, "rowcount", 0) == 1:
                s.execute(
                    update(ReembedJob)
                    .where(ReembedJob.id == job_id)
                    .values(status=ReembedStatus.DONE, finished_at=now, **counts)
                )
                job.status = ReembedStatus.DONE
                return SwitchOutcome(True, [], job)
    return SwitchOutcome(False, [], job)


def _searchable(s: Session, kb_id: int) -> list[tuple[int, int]]:
    rows = s.execute(select(File.id, File.generation).where(File.kb_id == kb_id, *repository.searchable()))
    return [(fid, gen) for fid, gen in rows]


def stalled(db: Database, quiet_for_s: float) -> list[int]:
    """Running jobs nothing has recorded progress on for `quiet_for_s` (a staging task lost, or a
    worker killed between a file's commit and its staging), for the sweeper to check again. Taking
    one counts as progress, so each is checked once per quiet period."""
    before = utcnow() - timedelta(seconds=quiet_for_s)
    quiet = [ReembedJob.status == ReembedStatus.RUNNING, ReembedJob.updated_at < before]
    with db.read() as s:  # the sweep runs often: no write lock unless there is something to do
        if s.scalar(select(ReembedJob.id).where(*quiet).limit(1)) is None:
            return []
    with db.write() as s:
        rows = s.execute(update(ReembedJob).where(*quiet).values(updated_at=utcnow()).returning(ReembedJob.id))
        return sorted(int(r[0]) for r in rows)


def end(db: Database, job_id: int, status: str, reason: str | None = None) -> bool:
    """End a running job as failed or cancelled, with why; False if it had already ended."""
    now = utcnow()
    with db.write() as s:
        result = s.execute(
            update(ReembedJob)
            .where(ReembedJob.id == job_id, ReembedJob.status == ReembedStatus.RUNNING)
            .values(status=status, error=(reason or None) and reason[:2000], finished_at=now, updated_at=now)
        )
        return getattr(result, "rowcount", 0) == 1
