"""Processes killed under a running batch: the worker's pool child, and Redis itself."""

from __future__ import annotations

import os
import random
import signal
import time
from functools import partial

import pytest

from tests.reliability.corpus import WORDS, notes
from tests.reliability.figures import Figure, record, record_batch
from tests.reliability.probe import doctor, file_states, pool_children, tally_chunks
from tests.support.stack import Stack
from tests.support.waiting import kill_9, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


def _embedding(stack: Stack, kb: str, after_done: int) -> int | None:
    """A file being embedded once `after_done` files are done, if any."""
    states = file_states(stack.data_dir, kb)
    if sum(s.status == "done" for s in states) < after_done:
        return None
    return next((s.id for s in states if s.status == "processing" and s.stage == "embedding"), None)


def _replaced(worker_pid: int, old: set[int]) -> bool:
    return bool(set(pool_children(worker_pid)) - old)


def _kill_pool_child_mid_embedding(stack: Stack, kb: str, after_done: int) -> tuple[int, str]:
    """Wait until `after_done` files are done and one is embedding, SIGKILL the pool child
    running it; returns the file and the stage it was left in (it must not be done)."""
    worker = stack.workers[0]
    for _ in range(20):
        deadline = time.monotonic() + 240
        while (target := _embedding(stack, kb, after_done)) is None:
            assert time.monotonic() < deadline, f"no file embedding after {after_done} done"
            time.sleep(0.02)
        children = pool_children(worker.pid)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        left = next(s for s in file_states(stack.data_dir, kb) if s.id == target)
        if left.status != "done":
            replaced = partial(_replaced, worker.pid, set(children))
            wait_for("a new pool child", replaced, timeout_s=60)
            return left.id, str(left.stage)
    pytest.fail("no kill landed before a file's commit in 20 tries")


def test_killing_the_pool_child_3_times_mid_embedding_loses_and_doubles_nothing(stack: Stack) -> None:
    kb = "pool-kills"
    stack.client.create_kb(kb)
    docs = notes(30, "pool", paragraphs=5)
    entries = stack.client.upload(kb, docs).json()["files"]
    assert [e["status"] for e in entries] == ["queued"] * 30
    killed = [_kill_pool_child_mid_embedding(stack, kb, after_done) for after_done in (1, 8, 16)]

    files = stack.client.wait_settled(kb, expected=30, timeout_s=420)
    tally = tally_chunks(stack.data_dir, kb)
    note = f"killed files {[k[0] for k in killed]} at stages {[k[1] for k in killed]}"
    done = record_batch("1. pool child SIGKILLed 3x mid-embedding, 30 files", 30, files, tally, note)
    assert len(done) == 30, [(f["name"], f["status"], f["error"]) for f in files]
    assert tally.duplicates == 0
    assert not tally.problems, tally.problems
    assert all(f["chunks"] == 5 for f in files), [(f["name"], f["chunks"]) for f in files]
    attempts = {f["file_id"]: f["attempts"] for f in files}
    assert all(attempts[file_id] >= 2 for file_id, _ in killed), (killed, attempts)
    report = doctor(stack.data_dir, stack.redis.url)
    assert report.consistent, report.as_dict()


def test_killing_redis_mid_batch_and_restarting_it_loses_nothing(stack: Stack) -> None:
    kb = "redis-kill"
    stack.client.create_kb(kb)
    docs = notes(12, "redis", paragraphs=3)
    assert [e["status"] for e in stack.client.upload(kb, docs).json()["files"]] == ["queued"] * 12

    def mid_batch() -> bool:
        states = file_states(stack.data_dir, kb)
        return sum(s.status == "done" for s in states) >= 2 and any(s.status == "processing" for s in states)

    wait_for("two files done and one processing", mid_batch, timeout_s=240)
    assert stack.redis.process is not None
    kill_9(stack.redis.process)
    # Uploads go on while Redis is down: the files are recorded, and sent once it is back.
    late = notes(2, "redis-late", paragraphs=3)
    started = time.monotonic()
    response = stack.client.upload(kb, late)
    upload_s = time.monotonic() - started
    assert response.status_code == 202, response.text
    assert [e["status"] for e in response.json()["files"]] == ["queued", "queued"]
    time.sleep(2)
    stack.redis.start()

    files = stack.client.wait_settled(kb, expected=14, timeout_s=300)
    tally = tally_chunks(stack.data_dir, kb)
    name = "2. Redis SIGKILLed mid-batch and restarted (AOF + recovery), 14 files"
    note = f"2 of them uploaded while Redis was down ({upload_s:.1f} s to answer)"
    done = record_batch(name, 14, files, tally, note)
    assert len(done) == 14, [(f["name"], f["status"], f["error"]) for f in files]
    assert tally.duplicates == 0
    assert not tally.problems, tally.problems
    report = doctor(stack.data_dir, stack.redis.url)
    assert report.consistent, report.as_dict()


MAX_ATTEMPTS = 3  # ingestion.max_attempts, the default


def _slow_csv(rows: int) -> bytes:
    """Cheap to parse, slow to embed: one chunk per row."""
    rng = random.Random(5)
    lines = ["id,text", *(f"{i}," + " ".join(rng.choice(WORDS) for _ in range(90)) for i in range(rows))]
    return "\n".join(lines).encode()


def test_a_file_that_kills_its_worker_every_time_fails_as_parse_crash(stack: Stack) -> None:
    """The kernel's OOM killer would SIGKILL the pool process each time it ran such a file (the
    memory guard samples every 0.2 s; one huge allocation outruns it). Here the test is that killer:
    after `ingestion.max_attempts` runs the file fails as `parse_crash` instead of looping.

    Celery's hard time limit cannot make this loop by itself: it is armed only after the soft
    limit fired, and the soft limit's exception ends the task gracefully (`timeout`).
    """
    assert len(stack.workers) == 1, "the killer needs to know which pool process runs the file"
    kb = "crash-loop"
    stack.client.create_kb(kb)
    entry = stack.client.upload(kb, [("killer.csv", _slow_csv(3000))]).json()["files"][0]
    worker, killed_runs = stack.workers[0], []
    deadline = time.monotonic() + 300
    while (state := next(s for s in file_states(stack.data_dir, kb) if s.id == entry["file_id"])).status not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline, f"still {state} after 300 s\n{stack.logs_tail()}"
        if state.status == "processing" and state.attempts not in killed_runs and state.attempts <= MAX_ATTEMPTS:
            for pid in pool_children(worker.pid):
                os.kill(pid, signal.SIGKILL)
            killed_runs.append(state.attempts)
        time.sleep(0.05)
    after = stack.client.upload(kb, notes(1, "after-the-crash-loop")).json()["files"][0]
    files = stack.client.wait_settled(kb, expected=2, timeout_s=180)
    plain = next(f for f in files if f["file_id"] == after["file_id"])
    record(
        Figure(
            "crash loop: a file whose pool process is SIGKILLed (as by the OOM killer) on every run",
            submitted=1,
            ingested=int(state.status == "done"),
            note=f"ended {state.status} / {state.error_code} after {len(killed_runs)} killed runs "
            f"(attempts {state.attempts}); the next file: {plain['status']}",
        )
    )
    assert state.status == "failed", state
    assert state.error_code == "parse_crash", state
    assert killed_runs == [1, 2, 3]  # ingestion.max_attempts runs were killed; no 4th run did any work
    assert state.attempts in (MAX_ATTEMPTS, MAX_ATTEMPTS + 1)  # the sweeper failed it, or the next claim gave up
    assert plain["status"] == "done"
