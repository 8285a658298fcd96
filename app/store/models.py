"""The app's SQL tables (SQLAlchemy 2.0 declarative); the schema itself is owned by Alembic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware now, the only kind of time the store keeps."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of the app tables."""


class ApiKey(Base):
    """An API key: only a hash of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Conversation(Base):
    """One customer conversation (one LangGraph thread)."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(32), default="chat")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(32), index=True)
    """The id of the API key that created it: a widget key sees only its own conversations."""
    status: Mapped[str] = mapped_column(String(24), default="active")
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Message(Base):
    """One message of the transcript, written before it is processed so nothing accepted is lost."""

    __tablename__ = "messages"
    # Recovery looks for accepted messages still waiting for their turn: a few among very many.
    __table_args__ = (
        Index(
            "ix_messages_received",
            "state",
            sqlite_where=text("state = 'received'"),
            postgresql_where=text("state = 'received'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    """customer, assistant or reviewer."""
    text: Mapped[str] = mapped_column(Text)
    turn: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="received")
    """For customer messages: received → answered | handed_off | held (kept for the reviewer)."""
    author: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Review(Base):
    """One escalated turn: pending until a reviewer's decision resumes it."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The interrupt id, so a decision names exactly the pause it answers."""
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    turn: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    waiting_messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    """pending → resolving → resolved; back to pending when a resume fails before it got past the pause."""
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """Kept when resolving starts, so a resume a crash cut short is finished with the same decision."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sla_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    value_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    first_response_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    resolution_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    first_responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    """When a person first wrote to the customer: it stops the first-response clock."""


class Event(Base):
    """A durable conversation event (message, escalation, status), replayed to reconnecting streams."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdempotencyRecord(Base):
    """The first response to an Idempotency-Key, replayed for retries of the same request."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_key_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The worker running the request; None once it gave the request up, so a retry may take it over."""
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A token of the request that owns the key now; a retry that takes the key over replaces it."""
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    """The customer message the request was accepted as, written with it: a retry finishes that one."""


class WorkerHeartbeat(Base):
    """A running worker, alive until `expires_at` unless renewed; a dead one's requests are taken over."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Customer(Base):
    """A customer as the router sees it: who they are, what they hold and what they are worth."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    """enterprise, business, standard or free."""
    annual_contract_value: Mapped[float] = mapped_column(Float, default=0.0)
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    region: Mapped[str | None] = mapped_column(String(32), nullable=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    open_incidents: Mapped[int] = mapped_column(Integer, default=0)
    recent_tickets: Mapped[int] = mapped_column(Integer, default=0)
    """Tickets in the last 90 days."""
    satisfaction: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Average satisfaction of recent tickets, 1 to 5."""
    renewal_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    churn_signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PolicyVersion(Base):
    """One immutable version of a routing policy document."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[str] = mapped_column(Text)
    """The YAML exactly as proposed; never edited."""
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """draft until a second admin approves it."""
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class PolicyDeployment(Base):
    """Which versions serve traffic: append-only, the newest row is in force."""

    __tablename__ = "policy_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    active_version: Mapped[int] = mapped_column(ForeignKey("policy_versions.version"))
    canary_version: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.version"), nullable=True)
    canary_percent: Mapped[float] = mapped_column(Float, default=0.0)
    action: Mapped[str] = mapped_column(String(32))
    """install, canary, promote, rollback or stop_canary."""
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditRecord(Base):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    """routing_decision, human_action, policy_change or data_lifecycle (a retention run, an erasure)."""
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What the decision was made from; personal data here can be redacted, see `inputs_digest`."""
    inputs_digest: Mapped[str] = mapped_column(String(64))
    """sha256 of the inputs as first written: the chain covers this, so redaction keeps it verifiable."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The decision, versions, rule, retrieved articles and explanation."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last link (one row): appends update it, which serialises them and exposes truncation."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ConversationLease(Base):
    """Which worker may run a conversation's turns until when; the token grows with every new holder."""

    __tablename__ = "conversation_leases"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


# Imported last so the business tables join Base.metadata wherever the models are loaded (Alembic's env,
# the schema test) and the module can build on the Base and UtcDateTime defined above.
from app.store import business_models as business_models  # noqa: E402
