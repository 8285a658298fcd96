"""Crash recovery: worker heartbeats, idempotency records tied to their worker and accepted message,
and an index of the messages still waiting for their turn.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIVED = sa.text("state = 'received'")


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Records of earlier versions name no worker, so a retry may take them over, as it could before
    # after two minutes.
    with op.batch_alter_table("idempotency_records") as records:
        records.add_column(sa.Column("worker", sa.String(32), nullable=True))
        records.add_column(sa.Column("claim", sa.String(32), nullable=True))
        records.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        records.create_unique_constraint("uq_idempotency_records_message_id", ["message_id"])
    op.create_index(
        "ix_messages_received", "messages", ["state"], sqlite_where=RECEIVED, postgresql_where=RECEIVED
    )


def downgrade() -> None:
    op.drop_index("ix_messages_received", "messages")
    with op.batch_alter_table("idempotency_records") as records:
        records.drop_constraint("uq_idempotency_records_message_id", type_="unique")
        records.drop_column("message_id")
        records.drop_column("claim")
        records.drop_column("worker")
    op.drop_table("worker_heartbeats")
