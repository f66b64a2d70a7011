"""turn ids and what a turn was searched for

Revision ID: 0005
Revises: 0004_web_pages
Create Date: 2026-12-03

A client may send a turn again (a retry after a dropped connection): its `turn_id` is stored on
the question, and a unique index on (conversation_id, turn_id) makes a second copy impossible
(NULLs are distinct on both SQLite and PostgreSQL, so turns without an id are not affected). An
index, not a table constraint, so SQLite needs no table rebuild. An answer keeps its mode, its
fallback and what it was searched for, so a retry gets back what the first try did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004_web_pages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("turn_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("searched_for", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("fallback", sa.String(length=16), nullable=True))
    op.create_index("uq_messages_conversation_turn", "messages", ["conversation_id", "turn_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_messages_conversation_turn", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("fallback")
        batch_op.drop_column("mode")
        batch_op.drop_column("searched_for")
        batch_op.drop_column("turn_id")
