from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import KBClient
from tests.support.inspect_data import chunk_report
from tests.support.processes import Proc, free_port, wait_http
from tests.support.stack import Stack

FAQ_KB = "python-faq"

_names = itertools.count()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One embedded Redis, one worker process and the API, shared by the e2e tests."""
    running = Stack(Path(tmp_path_factory.mktemp("stack"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> KBClient:
    return stack.client


@pytest.fixture
def kb(client: KBClient) -> str:
    name = f"kb{next(_names)}"
    client.create_kb(name)
    return name


@pytest.fixture
def stack_data_dir(stack: Stack) -> Path:
    return stack.data_dir


@pytest.fixture(scope="session")
def faq_pages(shared_data: Path) -> list[Path]:
    pages = sorted((shared_data / "python-faq" / "html").glob("*.html"))
    assert len(pages) == 9
    return pages


@pytest.fixture(scope="session")
def faq_kb(stack: Stack, faq_pages: list[Path]) -> dict[str, dict[str, int]]:
    """The 9 FAQ pages uploaded in one request and ingested; returns the chunk report per page."""
    client = stack.client
    client.create_kb(FAQ_KB)
    entries = client.upload_paths(FAQ_KB, faq_pages)
    assert [e["status"] for e in entries] == ["queued"] * 9
    files = client.wait_settled(FAQ_KB, expected=9, timeout_s=400)
    assert [f["status"] for f in files] == ["done"] * 9, [(f["name"], f["error"]) for f in files]
    return chunk_report(stack.data_dir, FAQ_KB)


@pytest.fixture
def second_api(stack: Stack, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start another API process on the same data and Redis, with different LLM settings."""
    started: list[Proc] = []

    def start(**env: str) -> str:
        port = free_port()
        proc = Proc(
            ["api"],
            {**stack.env(), "KB_PORT": str(port), "KB_RECOVERY_ENABLED": "false", **env},
            tmp_path / f"api{len(started)}.log",
        ).start()
        started.append(proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        proc.stop()
