"""Idempotency records: the first response to a key is replayed to every retry of the same request.

A record belongs to the request running it: its worker and a claim token. It is tied to the customer
message the request was accepted as, in the transaction that stores the message, and it gets its
response in the transaction that answers the message, whoever answers it (the request, or recovery
after a crash). A retry while the owner's worker is alive is refused as in progress; once that worker
is dead (its heartbeat expired), gave the request up, or has had it for longer than any request runs,
the retry takes the key over: it finishes the accepted message, or, when none was accepted, runs the
request afresh. The claim token makes a takeover safe even when the owner was still running: its late
acceptance no longer matches and fails, and an accepted message is answered once whoever answers it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.store.database import Sessions
from app.store.models import IdempotencyRecord, utcnow
from app.store.workers import is_alive

# Longer than any request runs: a record in progress this long lost its request (say, a failure whose
# clean-up could not reach the database), and a retry may take it over even from a live worker.
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    """What `begin` found: go ahead, finish an accepted message, replay, or refuse.

    `new` runs the request (with `record_id` and `token`); `resume` finishes the message `message_id`
    that a dead worker accepted for this key; `replay` returns `status` and `body`.
    """

    outcome: Literal["new", "resume", "replay", "in_progress", "mismatch"]
    record_id: int | None = None
    token: str | None = None
    message_id: int | None = None
    status: int | None = None
    body: dict[str, Any] | None = None

    @property
    def held(self) -> HeldKey | None:
        """The key as the request that now owns it holds it (for `new` and `resume`)."""
        if self.record_id is None or self.token is None:
            return None
        return HeldKey(self.record_id, self.token)


@dataclass(frozen=True)
class HeldKey:
    """An idempotency record and the claim token that owns it."""

    record_id: int
    token: str


class IdempotencyStore:
    """Claim a key before doing the work; the conversation store ties it to the message and the response."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def begin(self, api_key_id: str, key: str, request_hash: str, worker: str) -> Claim:
        """Claim `key` for this request, run by `worker`, or say why not."""
        token = uuid.uuid4().hex
        try:
            async with self._sessions.statement() as session:
                record = IdempotencyRecord(
                    api_key_id=api_key_id, key=key, request_hash=request_hash, worker=worker, claim=token
                )
                session.add(record)
            return Claim("new", record.id, token)
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
                return Claim(
                    "replay", existing.id, status=existing.response_status, body=existing.response_body
                )
            fresh = utcnow() - existing.created_at < STALE_AFTER
            if fresh and await is_alive(session, existing.worker):
                return Claim("in_progress")
            taken = await session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == existing.id,
                    IdempotencyRecord.status == "in_progress",
                    IdempotencyRecord.claim.is_not_distinct_from(existing.claim),
                )
                .values(worker=worker, claim=token, created_at=utcnow())
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                return Claim("in_progress")  # another retry took it over first
            outcome: Literal["new", "resume"] = "resume" if existing.message_id is not None else "new"
            return Claim(outcome, existing.id, token, existing.message_id)

    async def stored_response(self, record_id: int) -> Claim | None:
        """A replay of the record when it has its response by now, else None."""
        async with self._sessions() as session:
            record = await session.get(IdempotencyRecord, record_id)
        if record is None or record.status != "done":
            return None
        return Claim("replay", record.id, status=record.response_status, body=record.response_body)

    async def give_up(self, held: HeldKey) -> None:
        """The request failed: forget the key if it accepted nothing, else let a retry take it over now."""
        async with self._sessions.begin() as session:
            owned = (IdempotencyRecord.id == held.record_id, IdempotencyRecord.claim == held.token)
            await session.execute(
                delete(IdempotencyRecord).where(*owned, IdempotencyRecord.message_id.is_(None))
            )
            await session.execute(
                update(IdempotencyRecord)
                .where(*owned, IdempotencyRecord.status == "in_progress")
                .values(worker=None)
            )
