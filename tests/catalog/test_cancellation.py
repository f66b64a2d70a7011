"""Cancelling files in the catalog, on SQLite and PostgreSQL: one conditional UPDATE decides."""

from __future__ import annotations

import pytest

from catalog import Database, KnowledgeBase, cancellation, jobs, orphans, repository
from catalog.cancellation import NotCancellable
from catalog.errors import NotFound
from tests.catalog.test_jobs import chunks_of, expire, new_file, reload, rows, task_of
from tests.catalog.test_races import _race

pytestmark = pytest.mark.unit


def test_a_queued_file_is_cancelled_with_a_reason_and_is_never_claimed(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)

    cancelled = cancellation.cancel_file(db, kb.id, file.id, "not wanted")

    assert cancelled == cancellation.CancelledFile(file.id, file.task_id)
    row = reload(db, file.id)
    assert (row.status, row.error_code, row.error, row.lease_owner) == ("cancelled", "cancelled", "not wanted", None)
    assert task_of(db, file.task_id).state == "REVOKED"
    assert jobs.claim(db, file.id, "worker-1", 60) is None
    assert jobs.is_cancelled(db, file.id)
    assert repository.count_pending(db) == 0


def test_a_running_file_loses_its_lease_and_cannot_commit(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    run = jobs.claim(db, file.id, "worker-1", 60)
    assert run is not None
    version = repository.kb_version(db, kb.id)

    cancellation.cancel_file(db, kb.id, file.id, "stop")

    assert not jobs.report(db, file.id, "worker-1", "embedding", 1, 2, 0.5)  # the run's next boundary
    assert not jobs.renew(db, file.id, "worker-1", 60)
    assert not jobs.complete(db, file.id, "worker-1", run.run, rows(file.id, ["a", "b"]))
    assert not jobs.fail(db, file.id, "worker-1", "internal_error", "late")
    assert not jobs.release(db, file.id, "worker-1")
    assert chunks_of(db, file.id) == []
    assert reload(db, file.id).status == "cancelled"
    assert repository.kb_version(db, kb.id) == version  # nothing searchable changed


def test_a_re_ingest_cancelled_takes_the_old_chunks_out_of_search(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    jobs.claim(db, file.id, "w1", 60)
    jobs.complete(db, file.id, "w1", reload(db, file.id).run, rows(file.id, ["old"]))
    repository.reset_for_reingest(db, kb.id, file.id, "rerun")
    version = repository.kb_version(db, kb.id)

    cancellation.cancel_file(db, kb.id, file.id, "stop")

    assert chunks_of(db, file.id) == []
    assert (reload(db, file.id).generation, reload(db, file.id).chunks) == (0, 0)
    assert repository.done_generations(db, kb.id) == (version + 1, {})


def test_done_and_failed_files_are_not_cancellable_and_cancelling_twice_changes_nothing(
    db: Database, kb: KnowledgeBase
) -> None:
    done, failed, queued = (new_file(db, kb, c * 64) for c in "123")
    jobs.claim(db, done.id, "w", 60)
    jobs.complete(db, done.id, "w", reload(db, done.id).run, rows(done.id, ["x"]))
    jobs.claim(db, failed.id, "w", 60)
    jobs.fail(db, failed.id, "w", "parse_error", "bad")
    cancellation.cancel_file(db, kb.id, queued.id, "first")

    with pytest.raises(NotCancellable, match="is done"):
        cancellation.cancel_file(db, kb.id, done.id, "late")
    with pytest.raises(NotCancellable, match="is failed"):
        cancellation.cancel_file(db, kb.id, failed.id, "late")
    with pytest.raises(NotFound):
        cancellation.cancel_file(db, kb.id, 98765, "none")
    assert cancellation.cancel_file(db, kb.id, queued.id, "second") is None

    assert (reload(db, done.id).status, len(chunks_of(db, done.id))) == ("done", 1)
    assert reload(db, failed.id).error == "bad"
    assert reload(db, queued.id).error == "first"


def test_cancel_pending_takes_only_the_kbs_queued_and_processing_files_or_those_named(
    db: Database, kb: KnowledgeBase
) -> None:
    other = repository.create_kb(db, "other", "", "bundled:minilm", 384)
    queued, running, done = (new_file(db, kb, c * 64) for c in "abc")
    elsewhere = new_file(db, other, "d" * 64)
    jobs.claim(db, running.id, "w", 60)
    jobs.claim(db, done.id, "w", 60)
    jobs.complete(db, done.id, "w", reload(db, done.id).run, rows(done.id, ["x"]))

    chosen = cancellation.cancel_pending(db, kb.id, "these", [queued.id, done.id, elsewhere.id, 98765])
    cancelled = cancellation.cancel_pending(db, kb.id, "all of them")

    assert [c.file_id for c in chosen] == [queued.id]
    assert [c.file_id for c in cancelled] == [running.id]
    assert [reload(db, f.id).status for f in (queued, running, done, elsewhere)] == [
        "cancelled",
        "cancelled",
        "done",
        "queued",
    ]
    assert cancellation.cancel_pending(db, kb.id, "again") == []


def test_a_cancelled_file_is_queued_again_only_from_cancelled(db: Database, kb: KnowledgeBase) -> None:
    file = new_file(db, kb)
    assert repository.requeue_cancelled(db, kb.id, file.id, "t2") is None  # still queued: left alone
    cancellation.cancel_file(db, kb.id, file.id, "stop")

    again = repository.requeue_cancelled(db, kb.id, file.id, "t3")

    assert again is not None
    assert (again.status, again.task_id, again.error, again.error_code) == ("queued", "t3", None, None)
    assert jobs.claim(db, file.id, "w", 60) is not None
    assert repository.requeue_cancelled(db, kb.id, file.id, "t4") is None


def test_cancel_racing_the_commit_has_one_winner(db: Database, kb: KnowledgeBase) -> None:
    """Either the commit came first (done: the cancel is refused) or the cancel did (no chunks)."""
    for n in range(20):
        file = new_file(db, kb, f"{n:064x}")
        run = jobs.claim(db, file.id, "w", 60)
        assert run is not None
        results: dict[str, bool] = {}

        def commit(file_id: int = file.id, run_no: int = run.run, out: dict[str, bool] = results) -> None:
            out["committed"] = jobs.complete(db, file_id, "w", run_no, rows(file_id, ["t"]))

        def cancel(file_id: int = file.id, out: dict[str, bool] = results) -> None:
            try:
                out["cancelled"] = cancellation.cancel_file(db, kb.id, file_id, "race") is not None
            except NotCancellable:
                out["cancelled"] = False

        _race(commit, cancel)
        row = reload(db, file.id)
        assert results["committed"] != results["cancelled"], results
        if results["cancelled"]:
            assert (row.status, chunks_of(db, file.id)) == ("cancelled", [])
        else:
            assert (row.status, len(chunks_of(db, file.id))) == ("done", 1)


def test_the_recovery_sweep_never_brings_a_cancelled_file_back(db: Database, kb: KnowledgeBase) -> None:
    running, unsent = new_file(db, kb, "a" * 64), new_file(db, kb, "b" * 64)
    jobs.claim(db, running.id, "dead-worker", 60)
    expire(db, running.id)
    seen = {o.file_id: o for o in orphans.find_orphans(db, queued_older_than_s=0, unsent_grace_s=0)}
    assert set(seen) == {running.id, unsent.id}  # what a sweep saw just before the cancel

    cancellation.cancel_pending(db, kb.id, "stop")

    assert not orphans.requeue(db, seen[running.id])
    assert not orphans.requeue(db, seen[unsent.id])
    assert not jobs.fail_orphan(db, seen[running.id], "parse_crash", "gave up")
    assert orphans.find_orphans(db, queued_older_than_s=0, unsent_grace_s=0) == []
    assert [reload(db, f.id).status for f in (running, unsent)] == ["cancelled", "cancelled"]
