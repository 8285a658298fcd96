"""Conversations and their transcripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from app.store.audit import AuditEntry, append
from app.store.database import Sessions
from app.store.leases import Fence, check_fence
from app.store.models import Conversation, Event, IdempotencyRecord, Message, Review, utcnow

StoredResponse = tuple[int, int, dict[str, Any]]
"""(idempotency record id, HTTP status, body)."""


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
        **conversation_values: Any,
    ) -> list[Event]:
        """In one transaction: new messages, a new review, message states, conversation columns, events,
        audit records, and the response kept for replays of the request's Idempotency-Key.

        With a `fence`, nothing is written unless the conversation's lease is still that fence's.
        Returns the stored events (with the ids streams replay by).
        """
        stored = [Event(conversation_id=conversation_id, type=kind, data=data) for kind, data in events]
        async with self._sessions.begin() as session:
            if fence is not None:
                await check_fence(session, fence)
            if review is not None and await session.get(Review, review.id) is None:
                session.add(review)  # the same pause recorded twice keeps the first
            session.add_all([*messages, *stored])
            for message_id, state in (message_states or {}).items():
                await session.execute(update(Message).where(Message.id == message_id).values(state=state))
            if response is not None:
                record_id, status, body = response
                await session.execute(
                    update(IdempotencyRecord)
                    .where(IdempotencyRecord.id == record_id)
                    .values(status="done", response_status=status, response_body=body)
                )
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
        """Customer messages accepted but not yet processed (a crash or an outage cut their turn short),
        of every conversation or of one."""
        query = select(Message).where(Message.state == "received").order_by(Message.id)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        async with self._sessions() as session:
            return list(await session.scalars(query))
