"""ids never reused, run numbers, process locks

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

SQLite hands the id of a deleted row with the highest id to the next insert unless the table is
declared AUTOINCREMENT, which only a rebuild of the table can do (`migrate()` switches foreign
keys off around the migration, so dropping the old table cascades nothing). PostgreSQL's
sequences never reuse ids: there only the new column and table are added.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.batch_alter_table("knowledge_bases", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    with op.batch_alter_table(
        "files", recreate="always" if sqlite else "auto", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.add_column(sa.Column("run", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE files SET run = generation")
    op.create_table(
        "process_locks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO process_locks (name) VALUES ('sweeper')")


def downgrade() -> None:
    op.drop_table("process_locks")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("run")
