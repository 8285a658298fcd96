"""Idempotency records: the first response to a key is replayed to every retry of the same request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.store.database import Sessions
from app.store.models import IdempotencyRecord, utcnow

# A request still "in progress" after this long died with its worker; a retry may take it over.
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    """What `begin` found: go ahead (with the record id), replay, or refuse."""

    outcome: Literal["new", "replay", "in_progress", "mismatch"]
    record_id: int | None = None
    status: int | None = None
    body: dict[str, Any] | None = None


class IdempotencyStore:
    """Claim a key before doing the work; store the response after it."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def begin(self, api_key_id: str, key: str, request_hash: str) -> Claim:
        """Claim `key` for this request, or say why not."""
        try:
            async with self._sessions.begin() as session:
                record = IdempotencyRecord(api_key_id=api_key_id, key=key, request_hash=request_hash)
                session.add(record)
            return Claim("new", record.id)
        except IntegrityError:
            pass
        async with self._sessions.begin() as session:
            query = select(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
            )
            existing = (await session.scalars(query)).one()
            if existing.request_hash != request_hash:
                return Claim("mismatch")
            if existing.status == "done":
                return Claim("replay", existing.id, existing.response_status, existing.response_body)
            if utcnow() - existing.created_at < STALE_AFTER:
                return Claim("in_progress")
            existing.created_at = utcnow()
            return Claim("new", existing.id)

    async def abandon(self, record_id: int) -> None:
        """Forget a claim whose request failed, so a retry can run it."""
        async with self._sessions.begin() as session:
            await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
