"""Fixtures of the ingestion tests: a real catalog (SQLite and PostgreSQL) and the real embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.catalog import Database, KnowledgeBase, repository
from ingestion.catalog.migrate import migrate
from ingestion.uploads import UploadStore
from tests.support.postgres import temporary_database
from tests.vectorstore.bundled import bundled_embedder
from vectorstore import Embedder

# CI checks out the repository with shared/ beside it.
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared test data is missing: expected {DATA} beside the checkout")
    return DATA


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return bundled_embedder()


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


@pytest.fixture
def uploads(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", tmp_path / "tmp")
