"""re-embed jobs: a KB's live segment set, its re-embed jobs and the files each has staged

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

`knowledge_bases.segment_set` names the set of segments readers load (0: `segments/`); a re-embed
job writes set `<job id>` beside it and switches the KB to it (with its embedder) in one UPDATE.
A partial unique index allows one running job per KB.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_bases", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("segment_set", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "reembed_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kb_id", sa.Integer(), sa.ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("preset", sa.String(32), nullable=False),
        sa.Column("embedder", sa.String(255), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("from_preset", sa.String(32), nullable=True),
        sa.Column("from_set", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reembed_jobs_kb_id", "reembed_jobs", ["kb_id"])
    running = sa.text("status = 'running'")
    op.create_index(
        "uq_reembed_jobs_running",
        "reembed_jobs",
        ["kb_id"],
        unique=True,
        sqlite_where=running,
        postgresql_where=running,
    )
    op.create_table(
        "reembed_staged",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("reembed_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("file_id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reembed_staged")
    op.drop_index("uq_reembed_jobs_running", table_name="reembed_jobs")
    op.drop_index("ix_reembed_jobs_kb_id", table_name="reembed_jobs")
    op.drop_table("reembed_jobs")
    with op.batch_alter_table("knowledge_bases", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("segment_set")
