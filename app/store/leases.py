"""Conversation leases in the database: one worker at a time runs a conversation's turns.

A lease is a row per conversation: its holder, an expiry, and a fencing token that grows by one with
every new holder and never goes back (rows are expired on release, never deleted). A write that
belongs to a turn checks the token in its own transaction, locking the row, so a worker whose lease
expired and was taken over cannot write any more, even if it does not know yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.refusals import BusyError
from app.store.database import Sessions
from app.store.models import ConversationLease, utcnow

EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLostError(BusyError):
    """This worker's lease on the conversation was taken over: it must not write for it any more."""


@dataclass(frozen=True)
class Fence:
    """A held lease: writes for the conversation carry the token and fail when it is no longer current."""

    conversation_id: str
    token: int


class LeaseStore:
    """Acquire, renew, release and check conversation leases."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def acquire(self, conversation_id: str, holder: str, ttl: timedelta) -> Fence | None:
        """The lease with a new token, when it is free, expired or already `holder`'s; None while
        another holder has it.

        A holder's own lease is taken again (with a new token) because a holder is one process whose
        turns of a conversation already queue one after another: it held the lease for a turn that has
        ended, and only failed to release it (the database was away).
        """
        now = utcnow()
        async with self._sessions.statement() as session:
            insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = (
                insert(ConversationLease)
                .values(conversation_id=conversation_id, holder=holder, token=1, expires_at=now + ttl)
                .on_conflict_do_update(
                    index_elements=[ConversationLease.conversation_id],
                    set_={"holder": holder, "token": ConversationLease.token + 1, "expires_at": now + ttl},
                    where=(ConversationLease.expires_at < now) | (ConversationLease.holder == holder),
                )
                .returning(ConversationLease.token)
            )
            token = (await session.execute(statement)).scalar_one_or_none()
        return Fence(conversation_id, token) if token is not None else None

    async def renew(self, fence: Fence, ttl: timedelta) -> bool:
        """Push the expiry out; False when the lease is no longer this fence's."""
        async with self._sessions.statement() as session:
            result = await session.execute(
                update(ConversationLease)
                .where(ConversationLease.conversation_id == fence.conversation_id)
                .where(ConversationLease.token == fence.token)
                .values(expires_at=utcnow() + ttl)
                .returning(ConversationLease.token)
            )
            return result.scalar_one_or_none() is not None

    async def release(self, fence: Fence) -> None:
        """Expire the lease now, so the next holder need not wait; the token stays for fencing."""
        async with self._sessions.statement() as session:
            await session.execute(
                update(ConversationLease)
                .where(ConversationLease.conversation_id == fence.conversation_id)
                .where(ConversationLease.token == fence.token)
                .values(expires_at=EXPIRED)
            )


async def check_fence(session: AsyncSession, fence: Fence) -> None:
    """In the caller's transaction: lock the lease row and raise LeaseLostError unless the fence holds.

    The row lock keeps a takeover waiting until this transaction ends, so the check stays true for it.
    """
    current = (
        await session.execute(
            select(ConversationLease.token, ConversationLease.expires_at)
            .where(ConversationLease.conversation_id == fence.conversation_id)
            .with_for_update()
        )
    ).one_or_none()
    _ensure_held(fence, current.token if current else None, current.expires_at if current else None)


async def check_fence_row(connection: AsyncConnection[DictRow], conversation_id: str, token: int) -> None:
    """`check_fence` for the checkpointer's psycopg connection (graph/checkpointer.FenceCheck)."""
    cursor = await connection.execute(
        "SELECT token, expires_at FROM conversation_leases WHERE conversation_id = %s FOR UPDATE",
        (conversation_id,),
    )
    row = await cursor.fetchone()
    _ensure_held(
        Fence(conversation_id, token), row["token"] if row else None, row["expires_at"] if row else None
    )


def _ensure_held(fence: Fence, token: int | None, expires_at: datetime | None) -> None:
    """Raise LeaseLostError unless the lease row read (token, expiry) is still `fence`'s."""
    if token != fence.token or expires_at is None or expires_at < utcnow():
        raise LeaseLostError(
            f"conversation {fence.conversation_id} was taken over by another worker; retry the request"
        )
