"""Conversations and their transcripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.refusals import BusyError
from app.store.audit import AuditEntry, append
from app.store.database import Sessions
from app.store.idempotency import HeldKey
from app.store.leases import Fence, check_fence
from app.store.models import Conversation, Event, IdempotencyRecord, Message, Review, utcnow
from app.store.reviews import resolution

StoredResponse = tuple[int, dict[str, Any]]
"""(HTTP status, body) of a turn, kept for replays of its request's Idempotency-Key."""


class RequestTakenOverError(BusyError):
    """A retry with the same Idempotency-Key took the request over; it runs the message instead."""


class ConversationStore:
    """Create conversations, keep their messages, and track status and owner."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def create(self, conversation: Conversation) -> Conversation:
        """Insert a new conversation."""
        async with self._sessions.begin() as session:
            session.add(conversation)
        return conversation

    async def get(self, conversation_id: str) -> Conversation | None:
        """One conversation by id."""
        async with self._sessions() as session:
            return await session.get(Conversation, conversation_id)

    async def get_with_backlog(self, conversation_id: str) -> tuple[Conversation | None, bool]:
        """One conversation by id, and whether it has customer messages accepted but not yet processed
        (in one round trip: a turn asks both before it starts)."""
        unprocessed = (
            exists()
            .where(Message.conversation_id == Conversation.id, Message.state == "received")
            .label("backlog")
        )
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Conversation, unprocessed).where(Conversation.id == conversation_id)
                )
            ).first()
        return (row[0], bool(row[1])) if row is not None else (None, False)

    async def record(
        self,
        conversation_id: str,
        messages: Sequence[Message] = (),
        events: Sequence[tuple[str, dict[str, Any]]] = (),
        review: Review | None = None,
        message_states: dict[int, str] | None = None,
        response: StoredResponse | None = None,
        audit: Sequence[AuditEntry] = (),
        fence: Fence | None = None,
        accepted_as: HeldKey | None = None,
        held_for: str | None = None,
        resolved: tuple[str, dict[str, Any]] | None = None,
        **conversation_values: Any,
    ) -> list[Event]:
        """In one transaction: new messages, a new review, message states, conversation columns, events,
        audit records, and what recovery after a crash needs to find.

        - `accepted_as`: the Idempotency-Key of the request the customer message in `messages` came with,
          tied to the message here (RequestTakenOverError, and nothing written, when a retry owns it now);
        - `response`: kept for replays of the keys of the customer messages recorded or answered here;
        - `held_for`: the review whose waiting messages the customer message joins;
        - `resolved`: (review id, decision) of the review this records the resolution of.

        With a `fence`, nothing is written unless the conversation's lease is still that fence's.
        Returns the stored events (with the ids streams replay by).
        """
        now = utcnow()
        stored = [
            Event(conversation_id=conversation_id, type=kind, data=data, created_at=now)
            for kind, data in events
        ]
        customer = [message for message in messages if message.role == "customer"]
        async with self._sessions.begin() as session:
            if fence is not None:
                await check_fence(session, fence)
            if review is not None and await session.get(Review, review.id) is None:
                session.add(review)  # the same pause recorded twice keeps the first
            session.add_all(messages)
            await session.flush()  # the new messages' ids
            await _insert_events(session, stored)
            if accepted_as is not None:
                await _tie_key(session, accepted_as, customer[0].id)
            if held_for is not None:
                waiting = await session.get(Review, held_for, with_for_update=True)
                if waiting is not None:
                    waiting.waiting_messages = [*waiting.waiting_messages, *(m.text for m in customer)]
            for message_id, state in (message_states or {}).items():
                await session.execute(update(Message).where(Message.id == message_id).values(state=state))
            if response is not None:
                answered = [*(message_states or {}), *(m.id for m in customer)]
                status, body = response
                await session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.message_id.in_(answered))
                    .values(status="done", response_status=status, response_body=body)
                )
            if resolved is not None:
                await session.execute(resolution(*resolved))
            if conversation_values:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(**conversation_values, updated_at=utcnow())
                )
            if audit:
                await append(session, audit)
        return stored

    async def messages(self, conversation_id: str) -> list[Message]:
        """The transcript in order."""
        async with self._sessions() as session:
            query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            return list(await session.scalars(query))

    async def still_unprocessed(self, message_id: int) -> bool:
        """Whether a customer message is still waiting for its turn (another worker may have run it)."""
        async with self._sessions() as session:
            state = await session.scalar(select(Message.state).where(Message.id == message_id))
            return state == "received"

    async def unprocessed(self, conversation_id: str | None = None) -> list[Message]:
        """Customer messages accepted but not yet processed (of one conversation, when given), oldest
        first: turns running now, and turns a crash cut short."""
        query = select(Message).where(Message.state == "received").order_by(Message.id)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def message(self, message_id: int) -> Message | None:
        """One message by id."""
        async with self._sessions() as session:
            return await session.get(Message, message_id)


async def _insert_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """All of a record's events in one statement, each given the id it was stored under."""
    if not events:
        return
    rows = [
        {"conversation_id": e.conversation_id, "type": e.type, "data": e.data, "created_at": e.created_at}
        for e in events
    ]
    ids = (await session.execute(insert(Event).values(rows).returning(Event.id))).scalars().all()
    # A multi-row INSERT numbers its rows in VALUES order (SQLite and PostgreSQL alike), while the order
    # RETURNING lists them in is not promised: ascending ids are the events in order.
    for event, event_id in zip(events, sorted(ids), strict=True):
        event.id = event_id


async def _tie_key(session: AsyncSession, held: HeldKey, message_id: int) -> None:
    """Tie the request's idempotency record to its accepted message, if the request still owns it."""
    tied = await session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == held.record_id,
            IdempotencyRecord.claim == held.token,
            IdempotencyRecord.message_id.is_(None),
        )
        .values(message_id=message_id)
    )
    if not tied.rowcount:  # type: ignore[attr-defined]
        raise RequestTakenOverError("a retry with the same Idempotency-Key took this request over")
