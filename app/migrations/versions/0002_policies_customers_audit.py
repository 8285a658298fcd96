"""Customers, policy versions and deployments, the audit log, and SLA columns on reviews.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def review_columns() -> list[sa.Column[object]]:
    """The SLA columns reviews gain (fresh objects each call: a Column belongs to one table)."""
    return [
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("sla_class", sa.String(32), nullable=True),
        sa.Column("value_score", sa.Float(), nullable=True),
        sa.Column("policy_version", sa.String(32), nullable=True),
        sa.Column("first_response_due", TIMESTAMP, nullable=True),
        sa.Column("resolution_due", TIMESTAMP, nullable=True),
        sa.Column("first_responded_at", TIMESTAMP, nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("reviews") as reviews:
        for column in review_columns():
            reviews.add_column(column)
    op.create_index("ix_reviews_first_response_due", "reviews", ["first_response_due"])
    op.create_table(
        "customers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("annual_contract_value", sa.Float(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("preferred_channel", sa.String(32), nullable=True),
        sa.Column("open_incidents", sa.Integer(), nullable=False),
        sa.Column("recent_tickets", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("churn_signals", sa.JSON(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        sa.Column("proposed_at", TIMESTAMP, nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "policy_deployments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("active_version", sa.Integer(), sa.ForeignKey("policy_versions.version"), nullable=False),
        sa.Column("canary_version", sa.Integer(), sa.ForeignKey("policy_versions.version"), nullable=True),
        sa.Column("canary_percent", sa.Float(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_conversation_id", "audit_log", ["conversation_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_head", "audit_log", "policy_deployments", "policy_versions", "customers"):
        op.drop_table(table)
    op.drop_index("ix_reviews_first_response_due", "reviews")
    with op.batch_alter_table("reviews") as reviews:
        for column in reversed(review_columns()):
            reviews.drop_column(column.name)
