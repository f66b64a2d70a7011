"""Bring the catalog's schema to the current version with Alembic, safely from many processes.

The API and every worker call this at start-up. The upgrade runs inside one write transaction
that first takes a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so processes
starting together upgrade one after another and the later ones find nothing to do. A database
made before migrations existed (tables but no `alembic_version`) is stamped at the first revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from catalog.database import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
_PG_LOCK_KEY = 0x6B62_7365_7276  # "kbserv"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(db: Database) -> None:
    """Upgrade the schema to head (idempotent)."""
    config = alembic_config()
    with db.write_engine.connect() as connection:
        if db.is_sqlite:
            # Rebuilding a table (0002) drops the old one, which with foreign keys on deletes every
            # row that references it. The pragma only takes effect outside a transaction.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                config.attributes["connection"] = connection
                tables = set(inspect(connection).get_table_names())
                if "knowledge_bases" in tables and "alembic_version" not in tables:
                    command.stamp(config, FIRST_REVISION)
                command.upgrade(config, "head")
        finally:
            if db.is_sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
