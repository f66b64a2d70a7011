"""Fixtures of the ingestion tests: the shared documents, the real embedder, an upload store."""

from __future__ import annotations

from pathlib import Path

import pytest

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
def uploads(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", tmp_path / "tmp")
