from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import KBClient
from tests.support.stack import Stack

_names = itertools.count()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One embedded Redis, one worker process and the API, shared by the e2e tests."""
    running = Stack(Path(tmp_path_factory.mktemp("stack"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
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
