"""Catalog reads and writes used by the API, on a real SQLite database."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from catalog import Database, File, KnowledgeBase, Task, repository
from catalog.errors import Conflict, NotFound

pytestmark = pytest.mark.unit

SHA_A = "a" * 64
SHA_B = "b" * 64


def register(db: Database, kb: KnowledgeBase, sha: str = SHA_A, name: str = "a.txt") -> repository.Registration:
    return repository.register_file(db, kb.id, sha, name, 10, "text/plain", uuid.uuid4().hex)


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_kb_names_are_unique(db: Database, kb: KnowledgeBase) -> None:
    with pytest.raises(Conflict) as info:
        repository.create_kb(db, kb.name, "", "bundled:minilm", 384)
    assert info.value.code == "kb_exists"
    assert repository.get_kb(db, "docs").id == kb.id
    with pytest.raises(NotFound):
        repository.get_kb(db, "nope")


def test_register_file_returns_created_then_duplicate(db: Database, kb: KnowledgeBase) -> None:
    first = register(db, kb, name="report.txt")
    again = register(db, kb, name="copy of report.txt")

    assert first.created
    assert not again.created
    assert again.file.id == first.file.id
    assert again.file.name == "report.txt"
    assert first.file.status == "queued"
    task, file = repository.get_task(db, first.file.task_id or "")
    assert (task.state, file.id) == ("PENDING", first.file.id)
    assert count(db, File) == count(db, Task) == 1


def test_same_bytes_in_another_kb_is_another_file(db: Database, kb: KnowledgeBase) -> None:
    other = repository.create_kb(db, "other", "", "bundled:minilm", 384)

    assert register(db, kb).created
    assert register(db, other).created
    assert register(db, kb, sha=SHA_B).created
    assert count(db, File) == 3


def test_concurrent_registrations_of_the_same_bytes_create_one_file(db: Database, kb: KnowledgeBase) -> None:
    barrier = threading.Barrier(10)
    results: list[repository.Registration] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            barrier.wait()
            results.append(register(db, kb))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(results) == 10
    assert sum(r.created for r in results) == 1
    assert len({r.file.id for r in results}) == 1
    assert count(db, File) == count(db, Task) == 1


def test_reset_for_reingest_queues_the_file_under_a_new_task(db: Database, kb: KnowledgeBase) -> None:
    file = register(db, kb).file

    reset = repository.reset_for_reingest(db, kb.id, file.id, "task-2")

    assert (reset.status, reset.task_id, reset.attempts, reset.enqueued) == ("queued", "task-2", 0, False)
    assert repository.get_task(db, "task-2")[1].id == file.id
    assert repository.get_task(db, file.task_id or "")[1].id == file.id  # the old id stays known
    with pytest.raises(NotFound):
        repository.reset_for_reingest(db, kb.id, 999, "task-3")


def test_delete_file_bumps_the_version_and_reports_missing_files(db: Database, kb: KnowledgeBase) -> None:
    file = register(db, kb).file
    before = repository.kb_version(db, kb.id)

    repository.delete_file(db, kb.id, file.id)

    assert repository.kb_version(db, kb.id) == before + 1
    assert repository.list_files(db, kb.id) == []
    assert not repository.sha_in_use(db, SHA_A)
    with pytest.raises(NotFound) as info:
        repository.delete_file(db, kb.id, file.id)
    assert info.value.code == "file_not_found"


def test_stored_bytes_are_collected_only_when_no_file_refers_to_them(db: Database, kb: KnowledgeBase) -> None:
    deleted: list[str] = []
    file = register(db, kb).file

    assert repository.collect_blob(db, SHA_A, lambda: deleted.append(SHA_A)) is False
    repository.delete_file(db, kb.id, file.id)
    assert repository.collect_blob(db, SHA_A, lambda: deleted.append(SHA_A)) is True
    assert deleted == [SHA_A]


def test_collecting_bytes_waits_for_an_upload_that_is_placing_them(db: Database, kb: KnowledgeBase) -> None:
    # Another connection stands for another process: the lock is the database's, not a thread lock.
    placing, go_on = threading.Event(), threading.Event()
    deleted: list[str] = []
    collected: list[bool] = []

    def place() -> None:
        placing.set()
        assert go_on.wait(30)

    uploader = threading.Thread(
        target=lambda: repository.register_file(db, kb.id, SHA_A, "a.txt", 10, "text/plain", "task-u", place)
    )
    collector = threading.Thread(
        target=lambda: collected.append(repository.collect_blob(db, SHA_A, lambda: deleted.append(SHA_A)))
    )
    uploader.start()
    assert placing.wait(30)
    collector.start()
    collector.join(timeout=1.0)
    waited = collector.is_alive()
    go_on.set()
    uploader.join(timeout=30)
    collector.join(timeout=30)

    assert waited, "the collector decided while the upload was placing the bytes"
    assert collected == [False]
    assert deleted == []
    assert repository.sha_in_use(db, SHA_A)
