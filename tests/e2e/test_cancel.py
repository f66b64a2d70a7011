"""Cancelling ingestion against the real stack: queued files are never ingested, running ones stop
at their next stage boundary, nothing of either is left behind, and a cancelled file comes back."""

from __future__ import annotations

import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from ingestion.celery_app import create_celery
from ingestion.settings import IngestionSettings
from tests.reliability.corpus import notes
from tests.support.client import KBClient
from tests.support.processes import REPO
from tests.support.stack import Stack
from tests.support.waiting import wait_for
from vectorstore import SegmentStore
from vectorstore.keyword_index import KeywordSegmentStore

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# Chunks of a file slow enough to be caught embedding (each is one ~600-character paragraph): a
# few seconds of embedding on a quiet machine, more than half a minute on a busy one.
SLOW_CHUNKS = 400


@pytest.fixture(scope="module")
def celery(stack: Stack) -> Iterator[Celery]:
    """A client of the stack's result backend: what each worker task itself returned."""
    app = create_celery(stack.redis.url, IngestionSettings())
    try:
        yield app
    finally:
        app.close()


def file_of(client: KBClient, kb: str, file_id: int) -> dict[str, Any]:
    r = client.http.get(f"/api/kbs/{kb}/files/{file_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def cancel(client: KBClient, kb: str, file_id: int, **body: Any) -> Any:
    return client.http.post(f"/api/kbs/{kb}/files/{file_id}/cancel", json=body or None)


def leftovers(stack: Stack, kb: str, file_ids: list[int]) -> dict[str, list[int]]:
    """What is still on record for these files: chunk rows, vector segments, keyword blocks."""
    con = sqlite3.connect(f"file:{stack.data_dir / 'kb.sqlite3'}?mode=ro", uri=True)
    try:
        kb_id = con.execute("SELECT id FROM knowledge_bases WHERE name = ?", (kb,)).fetchone()[0]
        marks = ",".join("?" * len(file_ids))
        rows = [r[0] for r in con.execute(f"SELECT file_id FROM chunks WHERE file_id IN ({marks})", file_ids)]
    finally:
        con.close()
    kbs = stack.data_dir / "kbs"
    wanted = set(file_ids)
    return {
        "chunk rows": sorted(set(rows)),
        "segments": sorted(wanted & set(SegmentStore(kbs).file_ids(kb_id))),
        "keyword blocks": sorted(wanted & set(KeywordSegmentStore(kbs).runs(kb_id).file_ids())),
    }


def outcome(celery: Celery, task_id: str, timeout_s: float = 60) -> str:
    """How the worker task ended: `REVOKED` (never run), or the status the pipeline returned."""
    result = celery.AsyncResult(task_id)
    wait_for(f"task {task_id} finished", lambda: result.state in ("REVOKED", "SUCCESS", "FAILURE"), timeout_s, 0.2)
    return "REVOKED" if result.state == "REVOKED" else str(result.result["status"])


def test_queued_and_running_files_cancelled_leave_nothing_behind_and_can_be_ingested_again(
    stack: Stack, kb: str, celery: Celery
) -> None:
    client = stack.client
    tag = uuid.uuid4().hex[:8]
    slow = [notes(1, f"slow-{tag}-{n}", paragraphs=SLOW_CHUNKS)[0] for n in range(2)]
    running = client.upload(kb, slow).json()["files"]

    def both_running() -> bool:
        first, second = (file_of(client, kb, f["file_id"]) for f in running)
        return first["stage"] == "embedding" and second["status"] == "processing"

    wait_for("both slow files running, the first embedding", both_running, timeout_s=120)
    queued = client.upload(kb, notes(4, f"quick-{tag}")).json()["files"]
    assert [f["status"] for f in queued] == ["queued"] * 4

    one = cancel(client, kb, queued[0]["file_id"], reason="not wanted")
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["status"], body["error_code"], body["error"]) == ("cancelled", "cancelled", "not wanted")

    caught = file_of(client, kb, running[0]["file_id"])
    assert caught["status"] == "processing"
    assert caught["stage"] == "embedding"
    cancelled_at = time.monotonic()
    assert cancel(client, kb, running[0]["file_id"]).json()["status"] == "cancelled"

    rest = client.http.post(f"/api/kbs/{kb}/cancel", json={"reason": "stop everything"})
    assert rest.status_code == 200, rest.text
    others = [running[1], *queued[1:]]
    assert rest.json() == {"cancelled": sorted(f["file_id"] for f in others)}

    # Each running task stopped on its own, at its next boundary, long before it would have finished.
    assert [outcome(celery, f["task_id"]) for f in running] == ["cancelled", "cancelled"]
    stopped_s = time.monotonic() - cancelled_at
    # The queued ones were never ingested: revoked, or claimed nothing when the worker got to them.
    assert {outcome(celery, f["task_id"]) for f in queued} <= {"REVOKED", "cancelled"}
    files = {f["file_id"]: f for f in client.files(kb)}
    assert {fid: f["status"] for fid, f in files.items()} == {f["file_id"]: "cancelled" for f in running + queued}
    assert files[running[1]["file_id"]]["error"] == "stop everything"
    assert all(f["chunks"] == 0 for f in files.values())
    ids = sorted(files)
    assert leftovers(stack, kb, ids) == {"chunk rows": [], "segments": [], "keyword blocks": []}
    assert client.search(kb, f"slow {tag} note", mode="keyword") == []
    assert stopped_s < 30, f"the running tasks took {stopped_s:.0f} s to stop"

    # Back again: the same bytes uploaded once more, and a re-ingest.
    again = client.upload(kb, [notes(4, f"quick-{tag}")[0]]).json()["files"]
    assert [(f["file_id"], f["status"]) for f in again] == [(queued[0]["file_id"], "queued")]
    assert client.http.post(f"/api/kbs/{kb}/files/{queued[1]['file_id']}/reingest").status_code == 202
    back = [queued[0]["file_id"], queued[1]["file_id"]]
    wait_for("both back and done", lambda: all(file_of(client, kb, f)["status"] == "done" for f in back), 60, 0.2)
    assert all(file_of(client, kb, f)["error"] is None for f in back)
    assert leftovers(stack, kb, back)["chunk rows"] == back

    refused = cancel(client, kb, back[0])
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_cancellable"
    assert "done" in refused.json()["detail"]
    assert file_of(client, kb, back[0])["status"] == "done"


def test_ctrl_c_in_ingest_on_a_terminal_offers_to_cancel_what_it_queued(stack: Stack, kb: str, tmp_path: Path) -> None:
    name, data = notes(1, f"slow-{uuid.uuid4().hex[:8]}", paragraphs=SLOW_CHUNKS)[0]
    (tmp_path / name).write_bytes(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(COLUMNS="100", TERM="xterm")
    args = ["ingest", str(tmp_path), "--kb", kb, "--url", stack.base_url]
    leader, follower = pty.openpty()
    output = bytearray()

    def read_until(text: bytes, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in output:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not shown:\n{output.decode(errors='replace')}"
            if select.select([leader], [], [], left)[0]:
                try:
                    output.extend(os.read(leader, 65536))
                except OSError:  # EIO: the child closed the terminal
                    return

    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "kb_server", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=REPO,
        )
        os.close(follower)
        read_until(b"processing", 60)  # uploaded: the run follows its file
        process.send_signal(signal.SIGINT)
        read_until(b"[y/N]", 30)
        os.write(leader, b"y\n")
        assert process.wait(timeout=60) == 130
        read_until(b"ingest them after all", 10)
    finally:
        os.close(leader)
    text = output.decode(errors="replace")
    assert "Cancel the 1 file this run queued that are not ingested yet? [y/N]" in text
    assert "cancelled 1 of 1 file" in text
    [file] = stack.client.files(kb)
    assert (file["status"], file["error"]) == ("cancelled", "cancelled from kb-server ingest (interrupted)")
