"""State changes that race each other, on SQLite and PostgreSQL: the database picks one winner.

Each test replays an interleaving that today's catalog got wrong (a write acting on what an
earlier read saw), then races the two writers from threads many times over.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import update

from catalog import Database, File, KnowledgeBase, Task, jobs, orphans, repository
from catalog.models import ProcessLock
from tests.catalog.test_jobs import expire, new_file, reload, rows

pytestmark = pytest.mark.unit

ROUNDS = 40


def _race(first: Callable[[], object], second: Callable[[], object]) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(step: Callable[[], object]) -> None:
        barrier.wait()
        try:
            step()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_a_sweep_that_saw_an_expired_lease_does_not_requeue_a_file_claimed_since(
    db: Database, kb: KnowledgeBase
) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "dead-worker", 60)
    expire(db, file.id)
    (seen,) = orphans.find_orphans(db, 3600, unsent_grace_s=0)

    assert jobs.claim(db, file.id, "new-worker", 60) is not None  # takes the expired lease
    assert not orphans.requeue(db, seen)

    row = reload(db, file.id)
    assert (row.status, row.lease_owner) == ("processing", "new-worker")
    assert jobs.renew(db, file.id, "new-worker", 60)


def test_claim_against_requeue_never_leaves_a_claimer_without_its_lease(db: Database, kb: KnowledgeBase) -> None:
    for n in range(ROUNDS):
        file = new_file(db, kb, f"{n:064d}")
        jobs.claim(db, file.id, "dead-worker", 60)
        expire(db, file.id)
        (seen,) = [o for o in orphans.find_orphans(db, 3600, unsent_grace_s=0) if o.file_id == file.id]
        claimed: list[object] = []
        _race(
            lambda f=file, out=claimed: out.append(jobs.claim(db, f.id, "new-worker", 60)),
            lambda s=seen: orphans.requeue(db, s),
        )
        row = reload(db, file.id)
        if claimed[0] is not None:
            assert (row.status, row.lease_owner) == ("processing", "new-worker"), n
        else:
            assert (row.status, row.lease_owner) == ("queued", None), n


def test_a_reingest_that_commits_first_wins_over_the_old_runs_complete(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    claim = jobs.claim(db, file.id, "w1", 60)
    assert claim is not None
    new_task = uuid.uuid4().hex
    repository.reset_for_reingest(db, kb.id, file.id, new_task)

    assert not jobs.complete(db, file.id, "w1", claim.run, rows(file.id, ["old run"]))

    row = reload(db, file.id)
    assert (row.status, row.task_id) == ("queued", new_task)


def test_complete_against_reingest_never_leaves_the_new_task_pending_forever(db: Database, kb: KnowledgeBase) -> None:
    for n in range(ROUNDS):
        file = new_file(db, kb, f"{n + 1000:064d}")
        claim = jobs.claim(db, file.id, "w1", 60)
        assert claim is not None
        new_task = uuid.uuid4().hex
        _race(
            lambda f=file, c=claim: jobs.complete(db, f.id, "w1", c.run, rows(f.id, ["text"])),
            lambda f=file, t=new_task: repository.reset_for_reingest(db, kb.id, f.id, t),
        )
        row = reload(db, file.id)
        with db.read() as s:
            state = s.get_one(Task, new_task).state
        # The new task is the file's, and it still has work to do: it is not marked done under it.
        assert row.task_id == new_task, n
        assert (row.status, state) == ("queued", "PENDING"), n


def test_the_sweeper_lock_has_one_holder_at_a_time(db: Database, kb: KnowledgeBase) -> None:
    assert jobs.try_lock(db, "sweeper", "api-1", 30)
    assert not jobs.try_lock(db, "sweeper", "worker-1", 30)
    assert jobs.try_lock(db, "sweeper", "api-1", 30)  # renewing is fine
    winners: list[str] = []
    with db.write() as s:
        s.execute(update(ProcessLock).values(expires_at=None, owner=None))
    _race(
        lambda: jobs.try_lock(db, "sweeper", "a", 30) and winners.append("a"),
        lambda: jobs.try_lock(db, "sweeper", "b", 30) and winners.append("b"),
    )
    assert len(winners) == 1


def test_ids_of_deleted_files_and_kbs_are_never_handed_out_again(db: Database, kb: KnowledgeBase) -> None:
    first = new_file(db, kb, "a" * 64)
    repository.delete_file(db, kb.id, first.id)
    second = new_file(db, kb, "b" * 64)
    assert second.id > first.id
    other = repository.create_kb(db, "other", "", "bundled:minilm", 384)
    repository.delete_kb(db, other.id)
    again = repository.create_kb(db, "again", "", "bundled:minilm", 384)
    assert again.id > other.id
    assert isinstance(second, File)
