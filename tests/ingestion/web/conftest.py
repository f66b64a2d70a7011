"""Fixtures of the web-page unit tests: a catalog on SQLite and the local test site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import Database
from catalog.migrate import migrate
from tests.support.web_site import WebSite


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """SQLite only: the catalog's side of this is tested on both databases in tests/catalog/test_crawls.py."""
    database = Database(f"sqlite:///{tmp_path}/kb.sqlite3")
    migrate(database)
    yield database
    database.dispose()


@pytest.fixture
def site() -> Iterator[WebSite]:
    """A fresh site per test (it starts in milliseconds), so hit counts and robots.txt start clean."""
    running = WebSite().start()
    yield running
    running.stop()
