"""Throw-away databases on the machine's PostgreSQL, for running the catalog suite on it too."""

from __future__ import annotations

import functools
import os

from benchmarks import postgres

ADMIN_URL = os.environ.get("KB_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
# Create an empty database and yield its SQLAlchemy URL; drop it afterwards.
temporary_database = functools.partial(postgres.temporary_database, ADMIN_URL, "kb_test")
