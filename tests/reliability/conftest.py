"""Fixtures of the reliability tests: real stacks, started once and always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.reliability.catalogue import Limits
from tests.reliability.figures import RECORDED
from tests.reliability.probe import pool_children
from tests.support.stack import Stack
from tests.support.waiting import wait_for

# A message lost with Redis is sent again once the queue has been empty this long (default 600 s).
STALE_QUEUED_S = "15"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Embedded Redis, a worker with one pool process and the API, shared by the crash, restart and
    concurrency tests (they kill "the" pool child running a file)."""
    running = Stack(
        tmp_path_factory.mktemp("reliability"),
        KB_INGESTION__STALE_QUEUED_S=STALE_QUEUED_S,
        KB_WORKER__CONCURRENCY="1",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class HostileStack:
    stack: Stack
    api_key: str
    limits: Limits
    process_tmp: Path  # TMPDIR of the server processes, beside the data dir
    memory_limit_mb: int


@pytest.fixture(scope="session")
def hostile_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStack]:
    """A stack with an API key, small upload limits and a per-task memory ceiling; its worker runs
    two pool processes, so that one file's trouble does not hold up the rest."""
    root = tmp_path_factory.mktemp("hostile")
    process_tmp = root / "process-tmp"
    process_tmp.mkdir()
    limits = Limits(file_bytes=8 << 20, request_bytes=10 << 20, files_per_request=4)
    memory_limit_mb = 1536
    running = Stack(
        root,
        KB_API_KEY="reliability-key-0123456789",
        KB_LIMITS__MAX_FILE_BYTES=str(limits.file_bytes),
        KB_LIMITS__MAX_REQUEST_BYTES=str(limits.request_bytes),
        KB_LIMITS__MAX_FILES_PER_REQUEST=str(limits.files_per_request),
        KB_INGESTION__MAX_TASK_MEMORY_MB=str(memory_limit_mb),
        KB_INGESTION__STALE_QUEUED_S=STALE_QUEUED_S,
        KB_WORKER__CONCURRENCY="2",
        TMPDIR=str(process_tmp),
    )
    try:
        running.start()
        worker = running.workers[0]
        wait_for("two pool processes", lambda: len(pool_children(worker.pid)) == 2, timeout_s=120)
        baseline = max(psutil.Process(pid).memory_info().rss for pid in pool_children(worker.pid)) >> 20
        assert baseline < memory_limit_mb - 600, f"a pool process starts at {baseline} MiB: raise the limit"
        running.client.http.headers["X-API-Key"] = "reliability-key-0123456789"
        yield HostileStack(running, "reliability-key-0123456789", limits, process_tmp, memory_limit_mb)
    finally:
        running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECORDED:
        terminalreporter.section("reliability figures")
        for figure in RECORDED:
            terminalreporter.write_line(figure.line())
