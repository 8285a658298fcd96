"""Password reset links keyed by conversation turn, so a turn run again after a crash sends no second link.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("password_resets") as resets:
        resets.add_column(sa.Column("idempotency_key", sa.String(200), nullable=True))
        resets.create_unique_constraint("uq_password_resets_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("password_resets") as resets:
        resets.drop_constraint("uq_password_resets_idempotency_key", type_="unique")
        resets.drop_column("idempotency_key")
