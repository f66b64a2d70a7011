"""A whole worker SIGKILLed mid-file with RabbitMQ as the broker: RabbitMQ hands its unacked message
back as soon as the connection drops, the file is taken over from its dead holder, and nothing is
ingested twice."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ingestion.broker import queue_depth
from tests.reliability.corpus import notes
from tests.reliability.figures import Figure, record
from tests.reliability.probe import file_states, pool_children, tally_chunks
from tests.support.rabbitmq import AMQP_URL
from tests.support.stack import Stack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

LEASE_S = 90.0
KB = "kill-rabbitmq"


def _holders(data_dir: Path) -> dict[int, int]:
    """file id -> pid of the process holding its lease."""
    con = sqlite3.connect(f"file:{data_dir / 'kb.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT id, lease_owner FROM files WHERE status = 'processing' AND lease_owner IS NOT NULL")
        return {fid: int(owner.split("/")[1]) for fid, owner in rows}
    finally:
        con.close()


def test_a_worker_killed_mid_file_with_rabbitmq_leaves_every_file_done_once(tmp_path: Path) -> None:
    stack = Stack(tmp_path, broker="amqp", KB_INGESTION__LEASE_S=str(LEASE_S), KB_WORKER__CONCURRENCY="1")
    try:
        stack.start()
        doomed = stack.workers[0]
        survivor = stack.start_worker()
        wait_for("the second worker's pool process", lambda: len(pool_children(survivor.pid)) == 1, timeout_s=120)
        stack.client.create_kb(KB)
        docs = notes(6, "rabbit-kill", paragraphs=30)
        assert stack.client.upload(KB, docs).status_code == 202

        def doomed_runs_a_file() -> bool:
            return bool(set(_holders(stack.data_dir).values()) & set(pool_children(doomed.pid)))

        wait_for("the doomed worker running a file", doomed_runs_a_file, timeout_s=300, interval_s=0.02)
        doomed.kill_group()
        killed_at = time.monotonic()

        def all_done() -> bool:
            states = file_states(stack.data_dir, KB)
            return len(states) == len(docs) and all(s.status == "done" for s in states)

        wait_for("every file done", all_done, timeout_s=LEASE_S * 2, interval_s=0.2)
        recovered_s = time.monotonic() - killed_at
        tally = tally_chunks(stack.data_dir, KB)
        retried = [s.name for s in file_states(stack.data_dir, KB) if s.attempts > 1]
        record(
            Figure(
                "10. a whole worker SIGKILLed mid-file, RabbitMQ broker, 6 files",
                submitted=len(docs),
                ingested=sum(s.status == "done" for s in file_states(stack.data_dir, KB)),
                duplicates=tally.duplicates,
                lost=0,
                note=f"{len(retried)} run again, all done {recovered_s:.0f} s after the kill (lease {LEASE_S:.0f} s)",
            )
        )
        assert tally.duplicates == 0, tally
        assert not tally.problems, tally
        assert retried, "the killed worker's file should have run a second time"
        assert recovered_s < LEASE_S * 0.75, f"took {recovered_s:.0f} s: waited for the lease to run out"
        assert survivor.alive()
        assert queue_depth(AMQP_URL, stack.queue_name) == 0
    finally:
        stack.stop()
