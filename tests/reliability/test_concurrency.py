"""Concurrency: several worker processes on one knowledge base, and one file uploaded many times at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest

from tests.reliability.corpus import notes
from tests.reliability.figures import Figure, record, record_batch
from tests.reliability.probe import doctor, tally_chunks
from tests.support.processes import Proc
from tests.support.stack import Stack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _ready(worker: Proc) -> bool:
    return "ready." in worker.tail(400)


@pytest.mark.slow
def test_four_worker_processes_ingest_200_files_into_one_kb(stack: Stack) -> None:
    extra = [stack.start_worker() for _ in range(4 - len(stack.workers))]
    try:
        for worker in stack.workers:
            wait_for(f"{worker.log_path.name} ready", partial(_ready, worker), timeout_s=240)
        kb = "four-workers"
        stack.client.create_kb(kb)
        response = stack.client.upload(kb, notes(200, "crowd"))
        assert response.status_code == 202, response.text
        assert [e["status"] for e in response.json()["files"]] == ["queued"] * 200
        files = stack.client.wait_settled(kb, expected=200, timeout_s=480)
        busy = [w.log_path.name for w in stack.workers if "succeeded" in w.log_path.read_text(errors="replace")]
    finally:
        for worker in extra:
            worker.stop()
            stack.workers.remove(worker)
    tally = tally_chunks(stack.data_dir, kb)
    rows = sum(f["chunks"] for f in files)
    note = f"{rows} chunk rows for 200 expected; {len(busy)} of 4 workers took files"
    done = record_batch("3. 4 worker processes, 200 small files into one KB", 200, files, tally, note)
    assert len(done) == 200, [(f["name"], f["status"], f["error"]) for f in files if f["status"] != "done"]
    assert tally.duplicates == 0
    assert not tally.problems, tally.problems
    assert rows == 200
    assert tally.consistent == 200
    assert len(busy) >= 2, busy
    report = doctor(stack.data_dir, stack.redis.url)
    assert report.consistent, report.as_dict()


def test_the_same_bytes_uploaded_20_times_at_once_make_one_file(stack: Stack) -> None:
    kb = "same-bytes"
    stack.client.create_kb(kb)
    data = notes(1, "twenty-copies", paragraphs=2)[0][1]
    start = threading.Barrier(20)

    def upload(i: int) -> httpx.Response:
        start.wait(timeout=30)
        files = [("files", (f"copy-{i:02d}.md", data))]
        return httpx.post(f"{stack.base_url}/api/kbs/{kb}/files", files=files, timeout=120)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(upload, range(20)))
    assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses if r.status_code != 202]
    answers = [r.json()["files"][0] for r in responses]
    queued = [a for a in answers if a["status"] == "queued"]
    duplicates = [a for a in answers if a["status"] == "duplicate"]
    files = stack.client.wait_settled(kb, expected=1, timeout_s=180)
    sha = files[0]["sha256"]
    record(
        Figure(
            "4. the same file uploaded 20 times at once under 20 names",
            submitted=20,
            ingested=sum(f["status"] == "done" for f in files),
            duplicates=len(duplicates),
            lost=0 if files[0]["status"] == "done" else 1,
            note=f"{len(files)} file in the KB, {len(queued)} answer queued",
        )
    )
    assert len(queued) == 1, answers
    assert len(duplicates) == 19, answers
    assert {a["file_id"] for a in answers} == {files[0]["file_id"]}
    assert len(files) == 1
    assert files[0]["status"] == "done"
    assert list((stack.data_dir / "uploads").glob(f"*/{sha}")) == [stack.data_dir / "uploads" / sha[:2] / sha]
    assert list((stack.data_dir / "tmp").glob("upload-*")) == []
    assert tally_chunks(stack.data_dir, kb).duplicates == 0
