from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog import Database, KnowledgeBase, repository
from catalog.migrate import migrate
from tests.support.postgres import temporary_database
from tests.support.processes import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared test data is missing: expected {SHARED_DATA} beside the checkout")
    return SHARED_DATA


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The catalog on SQLite and on the machine's PostgreSQL, built by the migrations."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/kb.sqlite3")
        migrate(database)
        yield database
        database.dispose()
        return
    with temporary_database() as url:
        database = Database(url)
        migrate(database)
        yield database
        database.dispose()


@pytest.fixture
def kb(db: Database) -> KnowledgeBase:
    return repository.create_kb(db, "docs", "test documents", "bundled:minilm", 384)
