"""Fixtures of the ingestion tests: a real SQLite catalog on tmp_path and the real embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.catalog import Database, KnowledgeBase, repository
from ingestion.uploads import UploadStore
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


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/kb.sqlite3")
    database.create_all()
    yield database
    database.dispose()


@pytest.fixture
def kb(db: Database) -> KnowledgeBase:
    return repository.create_kb(db, "docs", "test documents", "bundled:minilm", 384)


@pytest.fixture
def uploads(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", tmp_path / "tmp")
