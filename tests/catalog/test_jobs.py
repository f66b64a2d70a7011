"""The ingestion task's catalog writes: claim under a lease, renew, complete, fail, find orphans."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from catalog import Chunk, Database, File, KnowledgeBase, Task, jobs, orphans, repository
from catalog.models import utcnow
from vectorstore.ids import chunk_id

pytestmark = pytest.mark.unit


def new_file(db: Database, kb: KnowledgeBase, sha: str = "c" * 64) -> File:
    return repository.register_file(db, kb.id, sha, "doc.txt", 10, "text/plain", uuid.uuid4().hex).file


def rows(file_id: int, texts: list[str]) -> list[jobs.ChunkRow]:
    return [jobs.ChunkRow(chunk_id(file_id, i), i, t, {"source": "doc.txt"}) for i, t in enumerate(texts)]


def reload(db: Database, file_id: int) -> File:
    with db.read() as s:
        return s.get_one(File, file_id)


def chunks_of(db: Database, file_id: int) -> list[tuple[int, int, str]]:
    with db.read() as s:
        return [
            (c.id, c.ordinal, c.text)
            for c in s.scalars(select(Chunk).where(Chunk.file_id == file_id).order_by(Chunk.ordinal))
        ]


def expire(db: Database, file_id: int) -> None:
    with db.write() as s:  # the holder's lease ran out a minute ago
        s.execute(update(File).where(File.id == file_id).values(lease_expires_at=utcnow() - timedelta(minutes=1)))


def task_of(db: Database, task_id: str | None) -> Task:
    with db.read() as s:
        return s.get_one(Task, task_id)


def test_claim_takes_a_lease(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)

    claim = jobs.claim(db, file.id, "worker-1", lease_s=60)

    assert claim == jobs.Claim(file.id, kb.id, file.sha256, "doc.txt", "text/plain", attempts=1, run=1)
    row = reload(db, file.id)
    assert (row.status, row.lease_owner) == ("processing", "worker-1")


def test_second_claim_while_the_lease_is_live_steps_back(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    assert jobs.claim(db, file.id, "worker-1", lease_s=60) is not None

    assert jobs.claim(db, file.id, "worker-2", lease_s=60) is None
    assert reload(db, file.id).lease_owner == "worker-1"
    assert reload(db, file.id).attempts == 1


def test_claim_succeeds_after_the_lease_expires(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    assert jobs.claim(db, file.id, "worker-1", lease_s=0.05) is not None
    time.sleep(0.15)  # worker-1 died without renewing

    claim = jobs.claim(db, file.id, "worker-2", lease_s=60)

    assert claim is not None
    assert claim.attempts == 2
    assert reload(db, file.id).lease_owner == "worker-2"
    assert not jobs.renew(db, file.id, "worker-1", 60)


def test_renew_keeps_the_lease_alive(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "worker-1", lease_s=1.0)

    for _ in range(3):  # 1.2 s in all: without the renewals the lease would have run out
        time.sleep(0.4)
        assert jobs.renew(db, file.id, "worker-1", lease_s=1.0)
        assert jobs.claim(db, file.id, "worker-2", lease_s=60) is None


def test_done_and_failed_files_cannot_be_claimed(db: Database, kb: KnowledgeBase) -> None:
    done = new_file(db, kb, "d" * 64)
    failed = new_file(db, kb, "e" * 64)
    jobs.claim(db, done.id, "w", 60)
    jobs.complete(db, done.id, "w", reload(db, done.id).run, rows(done.id, ["x"]))
    jobs.claim(db, failed.id, "w", 60)
    jobs.fail(db, failed.id, "w", "parse_error", "bad")

    assert jobs.claim(db, done.id, "w2", 60) is None
    assert jobs.claim(db, failed.id, "w2", 60) is None
    assert jobs.claim(db, 12345, "w2", 60) is None


def test_report_records_progress_only_for_the_lease_holder(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "worker-1", 60)

    assert jobs.report(db, file.id, "worker-1", "embedding", 3, 10, 1.7)
    assert not jobs.report(db, file.id, "worker-2", "parsing", 0, 1, 0.0)

    row = reload(db, file.id)
    assert (row.stage, row.progress_current, row.progress_total, row.progress) == ("embedding", 3, 10, 1.0)


def test_complete_replaces_chunks_and_bumps_the_kb_version(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    version = repository.kb_version(db, kb.id)
    jobs.claim(db, file.id, "w1", 60)

    assert jobs.complete(db, file.id, "w1", reload(db, file.id).run, rows(file.id, ["one", "two", "three"]))

    row = reload(db, file.id)
    assert (row.status, row.chunks, row.generation, row.progress, row.lease_owner) == ("done", 3, 1, 1.0, None)
    assert [c[2] for c in chunks_of(db, file.id)] == ["one", "two", "three"]
    assert repository.kb_version(db, kb.id) == version + 1
    assert task_of(db, file.task_id).state == "SUCCESS"

    repository.reset_for_reingest(db, kb.id, file.id, "rerun")
    jobs.claim(db, file.id, "w2", 60)
    assert jobs.complete(db, file.id, "w2", reload(db, file.id).run, rows(file.id, ["uno", "dos"]))

    assert chunks_of(db, file.id) == [(chunk_id(file.id, 0), 0, "uno"), (chunk_id(file.id, 1), 1, "dos")]
    assert (reload(db, file.id).generation, reload(db, file.id).chunks) == (2, 2)
    assert repository.kb_version(db, kb.id) == version + 2
    assert repository.done_generations(db, kb.id) == (version + 2, {file.id: 2})


def test_complete_without_the_lease_changes_nothing(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "w1", 60)
    version = repository.kb_version(db, kb.id)

    assert not jobs.complete(db, file.id, "someone-else", reload(db, file.id).run, rows(file.id, ["x"]))

    assert chunks_of(db, file.id) == []
    assert reload(db, file.id).status == "processing"
    assert repository.kb_version(db, kb.id) == version


def test_fail_records_code_and_reason(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "w1", 60)

    assert not jobs.fail(db, file.id, "w2", "parse_error", "not the lease holder")
    assert jobs.fail(db, file.id, "w1", "parse_error", "the PDF cannot be read: " + "x" * 3000)

    row = reload(db, file.id)
    assert (row.status, row.error_code, row.lease_owner, row.lease_expires_at) == ("failed", "parse_error", None, None)
    assert row.error is not None
    assert row.error.startswith("the PDF cannot be read")
    assert len(row.error) == 2000
    task = task_of(db, file.task_id)
    assert (task.state, task.error) == ("FAILURE", row.error)
    assert task.finished_at is not None


def test_a_failed_rerun_takes_the_old_chunks_out_of_search(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "w1", 60)
    jobs.complete(db, file.id, "w1", reload(db, file.id).run, rows(file.id, ["x"]))
    repository.reset_for_reingest(db, kb.id, file.id, "rerun")
    version = repository.kb_version(db, kb.id)
    assert repository.done_generations(db, kb.id)[1] == {file.id: 1}  # still served while re-ingesting

    jobs.claim(db, file.id, "w2", 60)
    jobs.fail(db, file.id, "w2", "parse_error", "now unreadable")

    assert repository.done_generations(db, kb.id) == (version + 1, {})


def test_fail_needs_the_lease_holder_and_never_touches_a_done_file(db: Database, kb: KnowledgeBase) -> None:
    held = new_file(db, kb, "1" * 64)
    done = new_file(db, kb, "2" * 64)
    jobs.claim(db, held.id, "w1", 60)
    jobs.claim(db, done.id, "w1", 60)
    jobs.complete(db, done.id, "w1", reload(db, done.id).run, rows(done.id, ["x"]))

    assert not jobs.fail(db, held.id, "w2", "parse_crash", "gave up")
    assert jobs.fail(db, held.id, "w1", "parse_crash", "gave up")
    assert not jobs.fail(db, done.id, "w1", "parse_crash", "gave up")
    assert reload(db, held.id).error_code == "parse_crash"
    assert reload(db, done.id).status == "done"


def test_release_hands_the_file_back_to_the_queue(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "w1", 60)

    jobs.release(db, file.id, "w1")

    row = reload(db, file.id)
    assert (row.status, row.lease_owner, row.attempts) == ("queued", None, 0)  # not a crash: not counted
    assert jobs.claim(db, file.id, "w2", 60) is not None


def test_find_orphans_finds_expired_leases_and_unsent_rows(db: Database, kb: KnowledgeBase) -> None:
    expired, live, unsent, sent, done = (new_file(db, kb, c * 64) for c in "12345")
    for f in (sent, live, expired, done):
        repository.mark_enqueued(db, f.id, f.task_id or "")
    jobs.claim(db, expired.id, "dead-worker", lease_s=60)
    jobs.claim(db, live.id, "live-worker", lease_s=60)
    jobs.claim(db, done.id, "w", lease_s=60)
    jobs.complete(db, done.id, "w", reload(db, done.id).run, rows(done.id, ["x"]))
    with db.write() as s:  # the dead worker's lease ran out a minute ago
        s.execute(update(File).where(File.id == expired.id).values(lease_expires_at=utcnow() - timedelta(minutes=1)))

    lost = {o.file_id: o for o in orphans.find_orphans(db, queued_older_than_s=3600, unsent_grace_s=0)}

    assert set(lost) == {expired.id, unsent.id}
    assert lost[expired.id].reason == "lease expired"
    assert lost[expired.id].attempts == 1
    assert lost[unsent.id].reason == "not enqueued"
    assert lost[unsent.id].task_id == unsent.task_id

    stale = {o.file_id: o.reason for o in orphans.find_orphans(db, queued_older_than_s=0, unsent_grace_s=0)}
    assert stale[sent.id] == "stale queue"
    assert live.id not in stale
    assert done.id not in stale


def test_requeue_puts_an_orphan_back_unsent(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    repository.mark_enqueued(db, file.id, file.task_id or "")
    jobs.claim(db, file.id, "dead-worker", lease_s=60)
    expire(db, file.id)
    (orphan,) = orphans.find_orphans(db, 3600, unsent_grace_s=0)

    assert orphans.requeue(db, orphan)

    row = reload(db, file.id)
    assert (row.status, row.lease_owner, row.enqueued) == ("queued", None, False)
    assert [o.reason for o in orphans.find_orphans(db, 3600, unsent_grace_s=0)] == ["not enqueued"]
