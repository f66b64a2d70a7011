"""stored bytes: uploads, segments and keyword blocks in the catalog (storage.backend: database)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

One row per object and its content in 1 MiB bytea rows, so no host needs a shared data dir and
an upload is streamed in and out piece by piece. Deleting an object deletes its chunks (cascade).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Byte order, so that listing a folder (a prefix LIKE) can use the unique index.
_NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "stored_objects",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(16), nullable=False),
        sa.Column("name", _NAME, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("chunks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("bucket", "name"),
    )
    op.create_table(
        "stored_chunks",
        sa.Column("object_id", _ID, sa.ForeignKey("stored_objects.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_chunks")
    op.drop_table("stored_objects")
