"""url refresh: a request's refresh_s; each page's content hash, outcome and next refresh; when robots.txt was read

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

All plain nullable columns (ADD COLUMN on SQLite, no table rebuild). `url_pages.next_refresh_at`
is indexed: the recovery sweeper looks for due pages by it. `files (kb_id, source_url)` is indexed
because a re-fetched page becomes the next version of the file with its URL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("url_requests", sa.Column("refresh_s", sa.Integer(), nullable=True))
    op.add_column("url_pages", sa.Column("sha256", sa.String(length=64), nullable=True))
    op.add_column("url_pages", sa.Column("outcome", sa.String(length=16), nullable=True))
    op.add_column("url_pages", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("url_pages", sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_url_pages_next_refresh_at", "url_pages", ["next_refresh_at"], unique=False)
    op.create_index("ix_files_kb_source_url", "files", ["kb_id", "source_url"], unique=False)
    op.add_column("url_robots", sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("url_robots") as batch:
        batch.drop_column("read_at")
    op.drop_index("ix_files_kb_source_url", table_name="files")
    op.drop_index("ix_url_pages_next_refresh_at", table_name="url_pages")
    with op.batch_alter_table("url_pages", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("next_refresh_at")
        batch.drop_column("checked_at")
        batch.drop_column("outcome")
        batch.drop_column("sha256")
    with op.batch_alter_table("url_requests") as batch:
        batch.drop_column("refresh_s")
