"""file versions: version number, the file a version replaces, when it did, cached chunks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A file uploaded under the name of one already in its knowledge base (with other bytes) is that
document's next version: `replaces` names the file it takes over from, and UNIQUE(kb_id, replaces)
lets one upload only become a given file's successor, so two racing uploads form a chain instead
of two current versions. The replaced row is deleted when its successor is done, so `replaces`
has no foreign key. `cached_chunks` counts the chunks whose vectors came from the vector cache.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the constraint rebuilds the table: keep it AUTOINCREMENT (0002).
    with op.batch_alter_table("files", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("replaces", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cached_chunks", sa.Integer(), nullable=False, server_default="0"))
        batch.create_unique_constraint("uq_files_kb_replaces", ["kb_id", "replaces"])
        batch.create_index("ix_files_kb_name", ["kb_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("files", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_files_kb_name")
        batch.drop_constraint("uq_files_kb_replaces", type_="unique")
        batch.drop_column("cached_chunks")
        batch.drop_column("replaced_at")
        batch.drop_column("replaces")
        batch.drop_column("version")
