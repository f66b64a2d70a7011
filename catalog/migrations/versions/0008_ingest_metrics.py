"""ingest metrics: stage timings and outcomes for /metrics, when the broker is not Redis

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

With RabbitMQ as the broker there is no Redis to keep the workers' counters in; each row is one
counter (a histogram bucket, a sum, an outcome), added to with an upsert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_metrics",
        sa.Column("series", sa.String(64), primary_key=True),
        sa.Column("field", sa.String(32), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("ingest_metrics")
