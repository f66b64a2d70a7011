from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared test data is missing: expected {SHARED_DATA} beside the checkout")
    return SHARED_DATA
