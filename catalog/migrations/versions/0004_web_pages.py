"""web pages: files' source URL, URL requests, their pages and robots.txt

Revision ID: 0004_web_pages
Revises: 0003
Create Date: 2026-12-03

`files.source_url` is a plain nullable column (an ADD COLUMN on SQLite, no table rebuild). A
request's pages and robots.txt go with the request, and the request with its knowledge base
(ON DELETE CASCADE); a page's file_id is cleared when the file is deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_web_pages"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("files", sa.Column("source_url", sa.String(length=2048), nullable=True))
    op.create_table(
        "url_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kb_id", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("max_pages", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["kb_id"], ["knowledge_bases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_url_requests_kb_id", "url_requests", ["kb_id"], unique=False)
    op.create_table(
        "url_pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["url_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "url", name="uq_url_pages_request_url"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_url_pages_request_id", "url_pages", ["request_id"], unique=False)
    op.create_table(
        "url_robots",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["url_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "origin"),
    )


def downgrade() -> None:
    op.drop_table("url_robots")
    op.drop_index("ix_url_pages_request_id", table_name="url_pages")
    op.drop_table("url_pages")
    op.drop_index("ix_url_requests_kb_id", table_name="url_requests")
    op.drop_table("url_requests")
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_column("source_url")
