from __future__ import annotations

import pytest

from tests.vectorstore.bundled import bundled_embedder
from vectorstore import Embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return bundled_embedder()
