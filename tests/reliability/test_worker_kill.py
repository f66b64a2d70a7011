"""A whole worker SIGKILLed, with no API process running: its files are done again long before
their leases run out — the running one and the ones it had only prefetched."""

from __future__ import annotations

import io
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from catalog import Database, repository
from catalog.migrate import migrate
from ingestion.celery_app import create_celery
from ingestion.queueing import send_ingest
from ingestion.settings import IngestionSettings
from ingestion.uploads import UploadStore
from tests.reliability.corpus import notes
from tests.reliability.figures import Figure, record
from tests.reliability.probe import file_states, pool_children, tally_chunks
from tests.support.stack import Stack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

LEASE_S = 90.0
KB = "kill-no-api"


def _holders(data_dir: Path) -> dict[int, str]:
    con = sqlite3.connect(f"file:{data_dir / 'kb.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return {
            fid: owner for fid, owner in con.execute("SELECT id, lease_owner FROM files WHERE lease_owner IS NOT NULL")
        }
    finally:
        con.close()


def _pid_of(owner: str) -> int:
    return int(owner.split("/")[1])


def test_a_killed_workers_files_are_done_again_within_the_lease_with_no_api(tmp_path: Path) -> None:
    stack = Stack(tmp_path, KB_INGESTION__LEASE_S=str(LEASE_S), KB_WORKER__CONCURRENCY="1")
    try:
        stack.start_redis()
        doomed = stack.start_worker()
        survivor = stack.start_worker()
        db = Database(f"sqlite:///{stack.data_dir / 'kb.sqlite3'}")
        migrate(db)
        kb = repository.create_kb(db, KB, "", "bundled:minilm", 384)
        uploads = UploadStore(stack.data_dir / "uploads", stack.data_dir / "tmp")
        app = create_celery(stack.redis.url, IngestionSettings())
        docs = notes(12, "kill", paragraphs=6)
        for name, data in docs:
            staged = uploads.stage(io.BytesIO(data))
            uploads.commit(staged)
            file = repository.register_file(db, kb.id, staged.sha256, name, staged.size, "", uuid.uuid4().hex).file
            assert send_ingest(app, db, file.id, file.task_id or "")

        def doomed_holds_a_running_file() -> bool:
            children = set(pool_children(doomed.pid))
            return any(_pid_of(o) in children for o in _holders(stack.data_dir).values())

        wait_for("the doomed worker running a file", doomed_holds_a_running_file, timeout_s=300)
        held = {
            fid for fid, o in _holders(stack.data_dir).items() if _pid_of(o) in {doomed.pid, *pool_children(doomed.pid)}
        }
        doomed.kill_group()
        killed_at = time.monotonic()

        def all_done() -> bool:
            states = file_states(stack.data_dir, KB)
            return len(states) == len(docs) and all(s.status == "done" for s in states)

        wait_for("every file done", all_done, timeout_s=LEASE_S * 2)
        recovered_s = time.monotonic() - killed_at
        tally = tally_chunks(stack.data_dir, KB)
        record(
            Figure(
                "9. a whole worker SIGKILLed, no API process, 12 files",
                submitted=len(docs),
                ingested=sum(s.status == "done" for s in file_states(stack.data_dir, KB)),
                duplicates=tally.duplicates,
                lost=0,
                note=f"{len(held)} held by the killed worker, all done {recovered_s:.0f} s after the kill "
                f"(lease {LEASE_S:.0f} s)",
            )
        )
        assert tally.duplicates == 0, tally
        assert not tally.problems, tally
        assert recovered_s < LEASE_S * 0.75, f"took {recovered_s:.0f} s: waited for the lease to run out"
        assert survivor.alive
        app.close()
        db.dispose()
    finally:
        stack.stop()
