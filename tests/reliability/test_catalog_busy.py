"""Another process holding the SQLite catalog's write lock: a write is a 503 to retry, never a 500."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, api_only

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BUSY_TIMEOUT_S = 1


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API process (and its Redis) with a short busy timeout; no worker is needed."""
    with api_only(Path(tmp_path_factory.mktemp("busy")), KB_DATABASE_BUSY_TIMEOUT_S=str(BUSY_TIMEOUT_S)) as stack:
        yield stack


def test_a_write_while_another_process_holds_the_lock_is_503_with_retry_after(api: Stack) -> None:
    client = api.client
    client.create_kb("before")
    holder = sqlite3.connect(api.data_dir / "kb.sqlite3", isolation_level=None, timeout=30)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held as another process's long write would
        started = time.monotonic()
        busy = client.http.post("/api/kbs", json={"name": "during"}, timeout=30)
        waited = time.monotonic() - started
        reads = client.http.get("/api/kbs", timeout=30)  # WAL: readers go on beside the writer
    finally:
        holder.rollback()
        holder.close()
    assert busy.status_code == 503, busy.text
    assert busy.json()["code"] == "database_busy"
    assert int(busy.headers["retry-after"]) >= 1
    assert BUSY_TIMEOUT_S * 0.9 <= waited < BUSY_TIMEOUT_S + 10
    assert reads.status_code == 200
    assert [kb["name"] for kb in reads.json()["kbs"]] == ["before"]

    retried = client.http.post("/api/kbs", json={"name": "during"}, timeout=30)
    assert retried.status_code == 201, retried.text
