"""Durable conversation events, kept so a reconnecting stream misses nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.store.database import Sessions
from app.store.models import Event


class EventStore:
    """Append and replay events per conversation."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def after(self, conversation_id: str, after_id: int) -> list[Event]:
        """Events of a conversation with ids above `after_id`, in order."""
        async with self._sessions() as session:
            query = (
                select(Event)
                .where(Event.conversation_id == conversation_id, Event.id > after_id)
                .order_by(Event.id)
            )
            return list(await session.scalars(query))
