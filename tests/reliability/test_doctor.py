"""`kb-server doctor` on a real data dir (made by the real pipeline), damaged on purpose one way at a time."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from catalog import repository
from catalog.database import Database
from catalog.migrate import migrate
from catalog.owners import new_owner
from ingestion.broker import queue_depth
from ingestion.context import IngestionContext
from ingestion.pipeline import ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from kb_server.cli.doctor import Report
from kb_server.runtime.container import build_services
from kb_server.runtime.paths import DataPaths
from kb_server.runtime.redis_server import EmbeddedRedis
from kb_server.services import search as search_service
from kb_server.settings import load_settings
from tests.reliability.corpus import notes
from tests.reliability.probe import doctor, doctor_cli
from tests.support.rabbitmq import AMQP_URL, delete_queue, unique_queue_name
from tests.vectorstore.bundled import bundled_embedder
from vectorstore import Segment, SegmentStore
from vectorstore.keyword_index import KeywordSegmentStore

pytestmark = pytest.mark.integration

HOURS_AGO = time.time() - 7200


@dataclass(frozen=True)
class Made:
    root: Path
    kb_id: int
    done: list[int]  # file ids
    failed: int


def _context(root: Path) -> IngestionContext:
    paths = DataPaths(root)
    paths.ensure()
    db = Database(paths.database_url())
    migrate(db)
    return IngestionContext(
        db=db,
        uploads=UploadStore(paths.uploads, paths.tmp),
        segments=SegmentStore(paths.kbs),
        settings=IngestionSettings(max_task_memory_mb=0),
        embedder_factory=bundled_embedder,
        keywords=KeywordSegmentStore(paths.kbs),
    )


def _register(ctx: IngestionContext, kb_id: int, name: str, data: bytes) -> int:
    staged = ctx.uploads.stage(io.BytesIO(data))
    ctx.uploads.commit(staged)
    return repository.register_file(ctx.db, kb_id, staged.sha256, name, staged.size, "", uuid.uuid4().hex).file.id


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Three files ingested by the real pipeline, and one that failed."""
    root = tmp_path_factory.mktemp("doctor") / "data"
    ctx = _context(root)
    try:
        kb = repository.create_kb(ctx.db, "docs", "", bundled_embedder().identity, 384)
        done = [_register(ctx, kb.id, name, data) for name, data in notes(3, "doctor", paragraphs=2)]
        failed = _register(ctx, kb.id, "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog" + b"\x00garbage" * 50)
        outcomes = [ingest(ctx, file_id, new_owner()).status for file_id in [*done, failed]]
        assert outcomes == ["done", "done", "done", "failed"]
    finally:
        ctx.db.dispose()
    return Made(root, kb.id, done, failed)


@pytest.fixture
def data(made: Made, tmp_path: Path) -> Made:
    """A fresh copy of the made data dir, to damage."""
    root = tmp_path / "data"
    shutil.copytree(made.root, root)
    return Made(root, made.kb_id, made.done, made.failed)


def _sql(data: Made, statement: str, *args: object) -> None:
    con = sqlite3.connect(data.root / "kb.sqlite3")
    try:
        con.execute(statement, args)
        con.commit()
    finally:
        con.close()


def _stray_upload(root: Path, data: bytes) -> Path:
    store = UploadStore(root / "uploads", root / "tmp")
    staged = store.stage(io.BytesIO(data))
    store.commit(staged)
    return store.path(staged.sha256)


def _old(path: Path) -> Path:
    """Make the file (empty, if missing) two hours old."""
    if not path.exists():
        path.touch()
    os.utime(path, (HOURS_AGO, HOURS_AGO))
    return path


def _segments(data: Made) -> SegmentStore:
    return SegmentStore(data.root / "kbs")


def _keyword_path(data: Made, file_id: int) -> Path:
    return KeywordSegmentStore(data.root / "kbs").path(data.kb_id, file_id, 1)


def _checks(report: Report) -> list[str]:
    return sorted(f.check for f in report.findings)


def test_a_data_dir_made_by_the_pipeline_is_consistent(data: Made) -> None:
    report = doctor(data.root)
    assert report.consistent, report.as_dict()
    assert report.findings == []
    assert report.counts["done"] == 3
    assert report.counts["failed"] == 1
    assert report.counts["segment_files"] == 6  # a vector and a keyword segment per done file
    cli = doctor_cli(data.root, "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert json.loads(cli.stdout)["consistent"] is True


def _extra_vector(data: Made) -> None:
    segment = _segments(data).read(data.kb_id, data.done[0], 1)
    ids = np.append(segment.ids, segment.ids.max() + 1)
    _segments(data).write(data.kb_id, data.done[0], 1, Segment(ids, np.vstack([segment.vectors, segment.vectors[:1]])))


def _doubled_vectors(data: Made) -> None:
    segment = _segments(data).read(data.kb_id, data.done[0], 1)
    doubled = Segment(np.concatenate([segment.ids, segment.ids]), np.vstack([segment.vectors, segment.vectors]))
    _segments(data).write(data.kb_id, data.done[0], 1, doubled)


def _keyword_ids_changed(data: Made) -> None:
    path = _keyword_path(data, data.done[1])
    payload = json.loads(path.read_text())
    payload["ids"] = payload["ids"][:-1]
    payload["tokens"] = payload["tokens"][:-1]
    path.write_text(json.dumps(payload))


# Damage that makes a done file's segments disagree with its chunks: repaired by re-ingesting it.
SEGMENT_DAMAGE: dict[str, Callable[[Made], object]] = {
    "vector segment deleted": lambda d: _segments(d).path(d.kb_id, d.done[0], 1).unlink(),
    "vector segment overwritten with garbage": lambda d: (
        _segments(d).path(d.kb_id, d.done[0], 1).write_bytes(b"\x00" * 99)
    ),
    "vector segment with an extra vector": _extra_vector,
    "vector segment with every vector twice": _doubled_vectors,
    "keyword segment deleted": lambda d: _keyword_path(d, d.done[1]).unlink(),
    "keyword segment with other ids": _keyword_ids_changed,
    "keyword segment unreadable": lambda d: _keyword_path(d, d.done[1]).write_text("{not json"),
    "a chunk row deleted": lambda d: _sql(d, "DELETE FROM chunks WHERE file_id = ? AND ordinal = 1", d.done[2]),
}


@pytest.mark.parametrize("damage", SEGMENT_DAMAGE)
def test_a_done_file_whose_segments_disagree_is_found_and_reingested(data: Made, damage: str) -> None:
    SEGMENT_DAMAGE[damage](data)
    found = doctor(data.root)
    assert _checks(found) == ["segment"], found.as_dict()
    assert not found.consistent
    repaired = doctor(data.root, repair=True)
    assert repaired.consistent, repaired.as_dict()
    assert "queued for re-ingestion" in str(repaired.findings[0].repaired)
    assert doctor(data.root).consistent  # queued now, so nothing is checked against it yet
    ctx = _context(data.root)  # the worker's part, as the sent task would run it
    try:
        queued = [f.id for f in repository.list_files(ctx.db, data.kb_id) if f.status == "queued"]
        assert len(queued) == 1
        assert ingest(ctx, queued[0], new_owner()).status == "done"
    finally:
        ctx.db.dispose()
    assert doctor(data.root).findings == []


UNREADABLE = ("vector segment deleted", "vector segment overwritten with garbage", "keyword segment unreadable")


@pytest.mark.parametrize("damage", UNREADABLE)
def test_search_leaves_out_only_the_damaged_file_until_it_is_reingested(data: Made, damage: str) -> None:
    services = build_services(
        load_settings(None, data_dir=data.root, redis_url="redis://127.0.0.1:9/0"), embedder=bundled_embedder()
    )
    try:
        SEGMENT_DAMAGE[damage](data)
        for mode in ("dense", "keyword", "hybrid"):
            hits = search_service.search(services, "docs", "paragraph of note about doctor", 10, mode=mode)
            assert {h.file_id for h in hits} >= set(data.done) - {data.done[0]}, mode
        if damage.startswith("vector"):
            assert list(services.indexes.get(data.kb_id).unreadable) == [data.done[0]]
            dense = search_service.search(services, "docs", "paragraph of note about doctor", 10, mode="dense")
            assert data.done[0] not in {h.file_id for h in dense}
    finally:
        services.close()


def _orphan_copy(data: Made, kb_id: int, file_id: int) -> None:
    store = _segments(data)
    target = store.runs(kb_id).path(file_id, 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(store.path(data.kb_id, data.done[0], 1), target)


def _stuck(data: Made, attempts: int) -> None:
    _sql(
        data,
        "UPDATE files SET status = 'processing', lease_owner = 'gone', attempts = ?, "
        "lease_expires_at = '2000-01-01 00:00:00.000000' WHERE id = ?",
        attempts,
        data.done[0],
    )


def _queued_unsent(data: Made) -> None:
    _sql(
        data,
        "UPDATE files SET status = 'queued', enqueued = 0, updated_at = '2000-01-01 00:00:00' WHERE id = ?",
        data.done[0],
    )


def _orphan_chunks(data: Made) -> None:
    _sql(
        data,
        "INSERT INTO chunks (id, file_id, kb_id, ordinal, text, meta) VALUES (?, 999, ?, 0, 'x', '{}')",
        999 << 20,
        data.kb_id,
    )


def _missing_upload(data: Made) -> None:
    ctx = _context(data.root)
    try:
        file_id = _register(ctx, data.kb_id, "waiting.md", b"# Waiting\n\nThis file waits for its turn.\n")
        sha = repository.get_file(ctx.db, data.kb_id, file_id).sha256
        ctx.uploads.delete(sha)
    finally:
        ctx.db.dispose()


def _old_temp_dir(data: Made) -> None:
    folder = data.root / "tmp" / "kb-parse-leftover"
    folder.mkdir()
    _old(folder / "document.docx")
    _old(folder)


# Damage repaired by deleting, requeueing or failing, with what the repair leaves behind.
OTHER_DAMAGE: dict[str, tuple[str, Callable[[Made], object], str]] = {
    "a segment of a file that does not exist": ("orphan_segment", lambda d: _orphan_copy(d, d.kb_id, 999), "deleted"),
    "a segment of a deleted knowledge base": ("orphan_segment", lambda d: _orphan_copy(d, 77, 5), "deleted"),
    "a segment of a failed file": ("orphan_segment", lambda d: _orphan_copy(d, d.kb_id, d.failed), "deleted"),
    "a keyword segment of a file that does not exist": (
        "orphan_segment",
        lambda d: shutil.copy(_keyword_path(d, d.done[0]), _keyword_path(d, 999)),
        "deleted",
    ),
    "uploaded bytes no file refers to": (
        "orphan_upload",
        lambda d: _old(_stray_upload(d.root, b"nobody's bytes")),
        "deleted",
    ),
    "a file dropped among the segments": (
        "stray_object",
        lambda d: (d.root / "kbs" / str(d.kb_id) / "notes.txt").write_text("mine"),
        "deleted",
    ),
    "a segment set of a deleted knowledge base": (
        "stray_object",
        lambda d: _segments(d).runs(77, 3).write(5, 1, b"set 3 of kb 77"),
        "deleted",
    ),
    "a queued file whose bytes are gone": ("missing_upload", _missing_upload, "marked failed (upload_missing)"),
    "an old staged upload in tmp": (
        "temp_file",
        lambda d: _old(d.root / "tmp" / "upload-abandoned"),
        "deleted",
    ),
    "an old parser folder in tmp": ("temp_file", _old_temp_dir, "deleted"),
    "an old segment temp file": (
        "temp_file",
        lambda d: _old(_segments(d).path(d.kb_id, 1, 1).parent / ".1.abcd.tmp"),
        "deleted",
    ),
    "processing under an expired lease": ("stuck_job", lambda d: _stuck(d, 1), "requeued"),
    "processing under an expired lease, attempts used up": (
        "stuck_job",
        lambda d: _stuck(d, 3),
        "marked failed (parse_crash)",
    ),
    "queued an hour ago and never sent": ("stuck_job", _queued_unsent, "requeued"),
    "chunk rows of a file that does not exist": ("orphan_chunks", _orphan_chunks, "deleted"),
    "a stale url file of a killed kb-server up": (
        "broker",
        lambda d: (d.root / "redis" / "url").write_text(f"redis+socket://{d.root}/redis/redis.sock"),
        "removed the stale url file",
    ),
}


@pytest.mark.parametrize("damage", OTHER_DAMAGE)
def test_damage_is_found_and_repaired(data: Made, damage: str) -> None:
    check, harm, outcome = OTHER_DAMAGE[damage]
    harm(data)
    found = doctor(data.root)
    assert _checks(found) == [check], found.as_dict()
    assert not found.consistent
    repaired = doctor(data.root, repair=True)
    assert repaired.consistent, repaired.as_dict()
    assert str(repaired.findings[0].repaired).startswith(outcome), repaired.as_dict()
    assert doctor(data.root).findings == []


def test_segments_a_cancelled_file_left_behind_are_found_and_deleted(data: Made) -> None:
    """E.g. a worker that died between writing its run and seeing the cancel."""
    file_id = data.done[0]
    _sql(data, "UPDATE files SET status = 'cancelled', generation = 0, chunks = 0 WHERE id = ?", file_id)
    _sql(data, "DELETE FROM chunks WHERE file_id = ?", file_id)
    found = doctor(data.root)
    assert _checks(found) == ["orphan_segment", "orphan_segment"], found.as_dict()
    assert all("was cancelled" in f.detail for f in found.findings), found.as_dict()
    assert doctor(data.root, repair=True).consistent
    assert doctor(data.root).findings == []
    assert _segments(data).file_ids(data.kb_id) == sorted(data.done[1:])


def test_what_may_belong_to_work_in_progress_is_left_alone(data: Made) -> None:
    """A fresh temp file or blob, a cache in tmp, and the segment of a file being processed, are normal."""
    (data.root / "tmp" / "upload-arriving").write_bytes(b"half an upload")
    _old(data.root / "tmp" / "jieba.cache")
    store = UploadStore(data.root / "uploads", data.root / "tmp")
    store.commit(store.stage(io.BytesIO(b"bytes being registered right now")))
    _sql(
        data,
        "UPDATE files SET status = 'processing', lease_owner = 'alive', lease_expires_at = '2999-01-01' WHERE id = ?",
        data.done[0],
    )
    _extra_vector(data)  # its segment rewritten by the worker, the commit still to come
    report = doctor(data.root, repair=True)
    assert report.findings == [], report.as_dict()


def test_what_doctor_cannot_repair_keeps_the_exit_code_1(data: Made) -> None:
    db_path = data.root / "kb.sqlite3"
    with db_path.open("r+b") as handle:  # a b-tree page of the chunks table, overwritten
        handle.seek(4096 * 3)
        handle.write(b"\xff" * 4096)
    report = doctor(data.root, repair=True)
    assert _checks(report) == ["database"], report.as_dict()
    assert not report.consistent
    unreachable = doctor(data.root, "redis://127.0.0.1:1/0", repair=True)
    assert "broker" in _checks(unreachable)
    assert not unreachable.consistent
    cli = doctor_cli(data.root / "nowhere", "--repair", env_dir=data.root)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "does not exist" in cli.stdout


def test_stuck_jobs_are_sent_straight_to_a_broker_that_answers(data: Made) -> None:
    redis = EmbeddedRedis(data.root / "redis")
    redis.start()
    try:
        _stuck(data, 1)
        _sql(data, "UPDATE files SET updated_at = '2000-01-01 00:00:00' WHERE id = ?", data.done[1])
        _sql(data, "UPDATE files SET status = 'queued', enqueued = 1 WHERE id = ?", data.done[1])  # message lost
        found = doctor(data.root)
        assert _checks(found) == ["stuck_job", "stuck_job"], found.as_dict()
        assert any("queue is empty" in f.detail for f in found.findings)
        repaired = doctor(data.root, repair=True)
        assert repaired.consistent
        assert [f.repaired for f in repaired.findings] == ["requeued; sent to the worker"] * 2
        assert queue_depth(redis.url, IngestionSettings().queue_name) == 2
        assert doctor(data.root).findings == []
    finally:
        redis.stop()


def test_stuck_jobs_are_sent_straight_to_rabbitmq(data: Made) -> None:
    queue = unique_queue_name()
    try:
        _stuck(data, 1)
        _sql(data, "UPDATE files SET updated_at = '2000-01-01 00:00:00' WHERE id = ?", data.done[1])
        _sql(data, "UPDATE files SET status = 'queued', enqueued = 1 WHERE id = ?", data.done[1])  # message lost
        on_rabbitmq = partial(doctor, data.root, broker_url=AMQP_URL, queue_name=queue)
        found = on_rabbitmq()
        assert _checks(found) == ["stuck_job", "stuck_job"], found.as_dict()
        assert any("queue is empty" in f.detail for f in found.findings)
        assert any("the broker answers at amqp://guest:***@" in note for note in found.notes), found.notes
        repaired = on_rabbitmq(repair=True)
        assert [f.repaired for f in repaired.findings] == ["requeued; sent to the worker"] * 2
        assert queue_depth(AMQP_URL, queue) == 2
        assert on_rabbitmq().findings == []
        unreachable = doctor(data.root, broker_url="amqp://guest:guest@127.0.0.1:1//")
        assert _checks(unreachable) == ["broker"], unreachable.as_dict()
    finally:
        delete_queue(queue)
