"""What a conversation or a customer leaves in the app store, deleted or anonymised.

A conversation is removed in one transaction with the redaction of its audit inputs and an audit
record of the removal, after checking again, inside that transaction, that it may go. Audit records
are never deleted: their inputs are redacted, which the hash chain allows (app/store/audit.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Delete, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.anonymous import anonymous_decision, anonymous_event, anonymous_handoff, anonymous_outcome
from app.store.audit import AuditEntry, append, digest, redact_conversations
from app.store.business_models import (
    AccountSecurityRow,
    ChargeRow,
    ExecutedActionRow,
    InvoiceRow,
    OrderRow,
    PasswordResetRow,
    PaymentMethodRow,
    PaymentRow,
    RefundRow,
    SubscriptionRow,
)
from app.store.database import Sessions
from app.store.models import (
    AuditRecord,
    Conversation,
    ConversationLease,
    Customer,
    Event,
    IdempotencyRecord,
    Message,
    Review,
)

RemovalMode = Literal["delete", "anonymise"]
ANONYMISED = "anonymised"
"""The status of an anonymised conversation: kept for the statistics, closed to new messages."""
KeptReason = Literal["gone", "anonymised", "recent", "waiting_for_human", "open_review", "turn_in_progress"]
RowCounts = dict[str, int]
"""Rows deleted or anonymised, per table."""


@dataclass(frozen=True)
class Removal:
    """What removing one conversation did (or, in a dry run, would do)."""

    kept: KeptReason | None
    """Why the conversation was left alone; None when it was removed."""
    rows: RowCounts = field(default_factory=dict)
    audit_redacted: int = 0


class _DryRun(Exception):
    """Raised to roll a dry run's transaction back with what it did."""

    def __init__(self, removal: Removal) -> None:
        super().__init__("dry run")
        self.removal = removal


class ErasureStore:
    """Find idle conversations, remove or anonymise them, and erase a customer's own records."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def idle_before(self, cutoff: datetime, after_id: str = "", limit: int = 500) -> list[str]:
        """Ids above `after_id`, in order, of conversations not anonymised whose last activity (their
        own update, any message, event or review) is before `cutoff`."""
        query = (
            select(Conversation.id)
            .where(Conversation.status != ANONYMISED, Conversation.updated_at < cutoff)
            .where(~_active_since(cutoff), Conversation.id > after_id)
            .order_by(Conversation.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def kept_because(self, conversation_id: str, cutoff: datetime | None = None) -> KeptReason | None:
        """Why `remove` would leave the conversation alone now, or None when it would remove it."""
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return "gone"
            return await _kept_because(session, conversation, cutoff)

    async def remove(
        self,
        conversation_id: str,
        mode: RemovalMode,
        actor: str,
        reason: str,
        cutoff: datetime | None = None,
        dry_run: bool = False,
    ) -> Removal:
        """Delete or anonymise the conversation's rows, redact its audit inputs, and record it.

        With a `cutoff` (retention) the conversation is kept when it was active since, waits for a
        person, has an open review or a message still to process. A dry run does it all in a
        transaction that is rolled back, so its counts are exactly those of a real run.
        """
        try:
            async with self._sessions.begin() as session:
                removal = await self._remove(session, conversation_id, mode, actor, reason, cutoff)
                if dry_run:
                    raise _DryRun(removal)
        except _DryRun as rolled_back:
            return rolled_back.removal
        return removal

    async def _remove(
        self,
        session: AsyncSession,
        conversation_id: str,
        mode: RemovalMode,
        actor: str,
        reason: str,
        cutoff: datetime | None,
    ) -> Removal:
        conversation = await session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            return Removal("gone")
        kept = await _kept_because(session, conversation, cutoff)
        if kept is not None:
            return Removal(kept)
        if mode == "delete":
            rows = await _delete_conversation(session, conversation_id)
        else:
            rows = await _anonymise_conversation(session, conversation)
        redacted = await redact_conversations(session, [conversation_id])
        details = {"action": mode, "reason": reason, "rows": rows, "audit_records_redacted": redacted}
        await append(session, [AuditEntry("data_lifecycle", actor, conversation_id, {}, details)])
        return Removal(None, rows, redacted)

    async def delete_idempotency_before(self, cutoff: datetime, dry_run: bool = False) -> int:
        """Forget the responses kept for Idempotency-Key retries made before `cutoff`; how many."""
        old = IdempotencyRecord.created_at < cutoff
        if dry_run:
            async with self._sessions() as session:
                query = select(func.count()).select_from(IdempotencyRecord).where(old)
                return int(await session.scalar(query) or 0)
        async with self._sessions.begin() as session:
            return await _deleted(session, delete(IdempotencyRecord).where(old))

    async def conversations_of(self, customer_id: str) -> list[str]:
        """The ids of the customer's conversations (by the conversation, or by one of its reviews)."""
        by_review = select(Review.conversation_id).where(Review.customer_id == customer_id)
        query = select(Conversation.id).where(
            or_(Conversation.customer_id == customer_id, Conversation.id.in_(by_review))
        )
        async with self._sessions() as session:
            return sorted(await session.scalars(query))

    async def identifiers_of(self, customer_id: str) -> list[str]:
        """What identifies the customer outside our own ids: the id and the sign-in email."""
        async with self._sessions() as session:
            email = await session.scalar(
                select(AccountSecurityRow.email).where(AccountSecurityRow.customer_id == customer_id)
            )
        return [customer_id, *([email] if email else [])]

    async def erase_customer_records(
        self, customer_id: str, actor: str, summary: dict[str, Any], erased_elsewhere: bool
    ) -> RowCounts:
        """Delete the customer's profile and business records; record the whole erasure (`summary` says
        what was erased elsewhere) when anything at all was. The record names the customer only by a
        digest: a second erasure can tell it was done, and the log does not name the customer."""
        async with self._sessions.begin() as session:
            rows = await _delete_customer(session, customer_id)
            if erased_elsewhere or any(rows.values()):
                details = {
                    "action": "erase_customer",
                    "customer": customer_digest(customer_id),
                    **summary,
                    "customer_rows": rows,
                }
                await append(session, [AuditEntry("data_lifecycle", actor, None, {}, details)])
        return rows

    async def erasures_of(self, customer_id: str) -> list[AuditRecord]:
        """The audit records of earlier erasures of this customer, oldest first."""
        query = (
            select(AuditRecord)
            .where(AuditRecord.kind == "data_lifecycle")
            .where(AuditRecord.details["customer"].as_string() == customer_digest(customer_id))
            .order_by(AuditRecord.seq)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))


def customer_digest(customer_id: str) -> str:
    """How an erasure record names the customer it erased."""
    return digest({"customer_id": customer_id})


def _active_since(cutoff: datetime) -> ColumnElement[bool]:
    """Whether the conversation (of the enclosing query) had a message, event or review since `cutoff`."""
    mine = Conversation.id
    return or_(
        exists().where(Message.conversation_id == mine, Message.created_at >= cutoff),
        exists().where(Event.conversation_id == mine, Event.created_at >= cutoff),
        exists().where(
            Review.conversation_id == mine,
            or_(Review.created_at >= cutoff, Review.claimed_at >= cutoff, Review.resolved_at >= cutoff),
        ),
    )


async def _kept_because(
    session: AsyncSession, conversation: Conversation, cutoff: datetime | None
) -> KeptReason | None:
    """Why retention must leave the conversation alone, or None; an erasure (no cutoff) takes it all."""
    if conversation.status == ANONYMISED:
        return "anonymised"
    if cutoff is None:
        return None
    this = select(Conversation.id).where(Conversation.id == conversation.id)
    if conversation.updated_at >= cutoff or await session.scalar(this.where(_active_since(cutoff))):
        return "recent"
    if conversation.status == "waiting_for_human":
        return "waiting_for_human"
    open_review = select(Review.id).where(
        Review.conversation_id == conversation.id, Review.status.in_(("pending", "resolving"))
    )
    if await session.scalar(open_review.limit(1)):
        return "open_review"
    unprocessed = select(Message.id).where(
        Message.conversation_id == conversation.id, Message.state == "received"
    )
    if await session.scalar(unprocessed.limit(1)):
        return "turn_in_progress"
    return None


def _replays_of(conversation_id: str) -> ColumnElement[bool]:
    """Idempotency records whose kept response belongs to the conversation."""
    return IdempotencyRecord.response_body["conversation_id"].as_string() == conversation_id


async def _deleted(session: AsyncSession, statement: Delete) -> int:
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _delete_conversation(session: AsyncSession, conversation_id: str) -> RowCounts:
    """Every row of the conversation, children first."""
    return {
        "idempotency_records": await _deleted(
            session, delete(IdempotencyRecord).where(_replays_of(conversation_id))
        ),
        "events": await _deleted(session, delete(Event).where(Event.conversation_id == conversation_id)),
        "messages": await _deleted(
            session, delete(Message).where(Message.conversation_id == conversation_id)
        ),
        "reviews": await _deleted(session, delete(Review).where(Review.conversation_id == conversation_id)),
        "conversation_leases": await _deleted(
            session, delete(ConversationLease).where(ConversationLease.conversation_id == conversation_id)
        ),
        "conversations": await _deleted(
            session, delete(Conversation).where(Conversation.id == conversation_id)
        ),
    }


async def _anonymise_conversation(session: AsyncSession, conversation: Conversation) -> RowCounts:
    """Keep every row and its structure; empty the texts, drop the customer and the metadata.

    The kept replies of Idempotency-Key retries are deleted: they are copies of the outcomes.
    """
    conversation_id = conversation.id
    messages = list(await session.scalars(select(Message).where(Message.conversation_id == conversation_id)))
    for message in messages:
        message.text = ""
        message.outcome = anonymous_outcome(message.outcome) if message.outcome else None
    events = list(await session.scalars(select(Event).where(Event.conversation_id == conversation_id)))
    for event in events:
        event.data = anonymous_event(event.data)
    reviews = list(await session.scalars(select(Review).where(Review.conversation_id == conversation_id)))
    for review in reviews:
        review.customer_id = None
        review.payload = anonymous_handoff(review.payload)
        review.waiting_messages = []
        review.decision = anonymous_decision(review.decision)
    # updated_at stays: anonymising is not activity, and the time is what dashboards may group by.
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(customer_id=None, meta={}, status=ANONYMISED)
    )
    replays = await _deleted(session, delete(IdempotencyRecord).where(_replays_of(conversation_id)))
    await session.flush()
    return {
        "idempotency_records": replays,
        "events": len(events),
        "messages": len(messages),
        "reviews": len(reviews),
        "conversations": 1,
    }


async def _delete_customer(session: AsyncSession, customer_id: str) -> RowCounts:
    """The customer's profile and every business record of theirs, children before parents."""
    orders = select(OrderRow.id).where(OrderRow.customer_id == customer_id).scalar_subquery()
    mine: Sequence[tuple[str, Delete]] = (
        ("payments", delete(PaymentRow).where(PaymentRow.order_id.in_(orders))),
        (
            "refunds",
            delete(RefundRow).where(
                or_(RefundRow.customer_id == customer_id, RefundRow.order_id.in_(orders))
            ),
        ),
        ("orders", delete(OrderRow).where(OrderRow.customer_id == customer_id)),
        ("charges", delete(ChargeRow).where(ChargeRow.customer_id == customer_id)),
        ("invoices", delete(InvoiceRow).where(InvoiceRow.customer_id == customer_id)),
        ("payment_methods", delete(PaymentMethodRow).where(PaymentMethodRow.customer_id == customer_id)),
        ("subscriptions", delete(SubscriptionRow).where(SubscriptionRow.customer_id == customer_id)),
        ("account_security", delete(AccountSecurityRow).where(AccountSecurityRow.customer_id == customer_id)),
        ("password_resets", delete(PasswordResetRow).where(PasswordResetRow.customer_id == customer_id)),
        ("executed_actions", delete(ExecutedActionRow).where(ExecutedActionRow.customer_id == customer_id)),
        ("customers", delete(Customer).where(Customer.id == customer_id)),
    )
    return {table: await _deleted(session, statement) for table, statement in mine}
