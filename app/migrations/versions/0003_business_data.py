"""The demo company's business data: plans, billing, Market orders, account security, status, actions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
CUSTOMER_ID = 128
# Dropped in reverse: a table goes before the ones its foreign keys point at.
TABLES = (
    "plans",
    "subscriptions",
    "payment_methods",
    "invoices",
    "charges",
    "orders",
    "payments",
    "refunds",
    "account_security",
    "password_resets",
    "service_components",
    "incidents",
    "executed_actions",
)


def money() -> list[sa.Column[object]]:
    """An amount in cents and its currency (fresh objects each call: a Column belongs to one table)."""
    return [
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
    ]


def upgrade() -> None:
    _billing()
    _market()
    _security_and_status()
    op.create_table(
        "executed_actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("executed_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_executed_actions_customer_id", "executed_actions", ["customer_id"])


def _billing() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.UniqueConstraint("name", "interval"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("customer_id", sa.String(CUSTOMER_ID), primary_key=True),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("renews_on", sa.Date(), nullable=True),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("last4", sa.String(4), nullable=True),
        sa.Column("expires", sa.String(5), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_payment_methods_customer_id", "payment_methods", ["customer_id"])
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        *money(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pdf_url", sa.String(300), nullable=False),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_invoices_customer_id", "invoices", ["customer_id"])
    op.create_table(
        "charges",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        *money(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_method_id", sa.String(64), nullable=False),
        sa.Column("duplicate_of", sa.String(64), nullable=True),
    )
    op.create_index("ix_charges_customer_id", "charges", ["customer_id"])


def _market() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("placed_at", TIMESTAMP, nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        *money(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("charge_id", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        *money(),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
    )
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        *money(),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_index("ix_refunds_customer_id", "refunds", ["customer_id"])


def _security_and_status() -> None:
    op.create_table(
        "account_security",
        sa.Column("customer_id", sa.String(CUSTOMER_ID), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("mfa_enabled", sa.Boolean(), nullable=False),
        sa.Column("mfa_method", sa.String(8), nullable=False),
        sa.Column("last_login_at", TIMESTAMP, nullable=True),
        sa.Column("failed_logins_24h", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(CUSTOMER_ID), nullable=False),
        sa.Column("sent_to", sa.String(254), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_password_resets_customer_id", "password_resets", ["customer_id"])
    op.create_table(
        "service_components",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("workaround", sa.Text(), nullable=True),
    )
    op.create_index("ix_incidents_started_at", "incidents", ["started_at"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
