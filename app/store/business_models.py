"""The demo company's business tables: plans, billing, Market orders, account security, status, actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, UtcDateTime, utcnow

# The classes end in Row because agents.tools.business names the records the tools return (Plan, Order…).


class PlanRow(Base):
    """One plan of the catalogue at one billing interval."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("name", "interval"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    interval: Mapped[str] = mapped_column(String(8))
    """month or year."""
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))


class SubscriptionRow(Base):
    """The plan a customer holds: one per customer."""

    __tablename__ = "subscriptions"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    started_on: Mapped[date] = mapped_column(Date)
    renews_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    auto_renew: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PaymentMethodRow(Base):
    """A saved card, SEPA mandate or the Lumora Wallet."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str] = mapped_column(String(64))
    last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    expires: Mapped[str | None] = mapped_column(String(5), nullable=True)
    """MM/YY for cards."""
    is_default: Mapped[bool] = mapped_column(Boolean)


class InvoiceRow(Base):
    """A subscription invoice."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    """paid, open or overdue."""
    pdf_url: Mapped[str] = mapped_column(String(300))


class ChargeRow(Base):
    """A charge to one of the customer's payment methods."""

    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    description: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    """succeeded, pending, failed or refunded."""
    payment_method_id: Mapped[str] = mapped_column(String(64))
    duplicate_of: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OrderRow(Base):
    """A Lumora Market order."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    item: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    """placed, shipped, delivered, cancelled or returned."""
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PaymentRow(Base):
    """Money taken for an order; refunds raise `refunded_cents` up to `amount_cents`."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    charge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The charge on the customer's statement, marked refunded once this payment is refunded in full."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(24))
    """wallet, card, pay_in_3 or cash_on_delivery."""
    status: Mapped[str] = mapped_column(String(24))
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)


class RefundRow(Base):
    """A refund of an order; the ones an approved action issued carry its idempotency key."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AccountSecurityRow(Base):
    """Sign-in state, two-factor setup and the address reset links go to."""

    __tablename__ = "account_security"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(24))
    """active, locked, suspended or pending_verification."""
    mfa_enabled: Mapped[bool] = mapped_column(Boolean)
    mfa_method: Mapped[str] = mapped_column(String(8))
    """app, sms or none (after a reset, until the customer enrols again)."""
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failed_logins_24h: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PasswordResetRow(Base):
    """A reset link sent; only the masked address is kept with it."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    sent_to: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    """One per conversation turn: a turn run again after a crash finds its link instead of sending another."""


class ServiceComponentRow(Base):
    """One line of the public status page."""

    __tablename__ = "service_components"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    """operational, degraded or outage."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IncidentRow(Base):
    """An incident; empty `regions` or `products` means it reaches every region or every product."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    """investigating, identified, monitoring or resolved."""
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    components: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON)
    products: Mapped[list[str]] = mapped_column(JSON)
    workaround: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExecutedActionRow(Base):
    """The result of one approved action, written in the transaction that performed it."""

    __tablename__ = "executed_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    """Unique, so a re-run or a racing second call cannot perform the action again."""
    action: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(128), index=True)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    """executed or rejected."""
    detail: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    executed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
