"""The append-only, hash-chained audit log: append inside a transaction, read trails, verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Insert, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.database import Sessions
from app.store.models import AuditHead, AuditRecord, utcnow

GENESIS = "0" * 64
"""The prev_hash of the first link."""

HEAD_ID = 1
VERIFY_BATCH = 1000
"""Records verify reads at a time, so a long log is never loaded whole."""

AuditKind = Literal["routing_decision", "human_action", "policy_change", "data_lifecycle"]
AUDIT_KINDS: tuple[str, ...] = get_args(AuditKind)
KEPT_WHEN_REDACTED = ("category", "confidence", "risk_signals", "follow_up", "specialist", "channel", "at")
"""Routing inputs a redaction keeps: how the ticket was routed, not who sent it (dashboards count them)."""


class AuditConflict(RuntimeError):
    """The head moved under an append: another writer appended without the head lock."""


@dataclass(frozen=True)
class AuditEntry:
    """What a caller records; the log assigns seq, hashes and (when `at` is None) the time."""

    kind: AuditKind
    actor: str
    conversation_id: str | None
    inputs: dict[str, Any]
    details: dict[str, Any]
    at: datetime | None = None


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of walking the chain: ok, or the first bad record and what is wrong with it."""

    ok: bool
    records: int
    """How many records were checked."""
    head_seq: int
    first_bad_seq: int | None
    problem: str | None

    def __str__(self) -> str:
        if self.ok:
            return f"audit log ok: {self.records} records verified, head at {self.head_seq}"
        return f"audit log BROKEN at record {self.first_bad_seq}: {self.problem}"


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value, whatever the key order or the database's formatting."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(value: Any) -> str:
    """sha256 hex of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def format_at(at: datetime) -> str:
    """The one string a timestamp is hashed as (databases hand back UTC in different offsets)."""
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def link_hash(
    seq: int,
    at: datetime,
    kind: str,
    conversation_id: str | None,
    actor: str,
    inputs_digest: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The hash of one link. It covers the inputs' digest, not the inputs, so they can be redacted."""
    return digest(
        {
            "seq": seq,
            "at": format_at(at),
            "kind": kind,
            "conversation_id": conversation_id,
            "actor": actor,
            "inputs_digest": inputs_digest,
            "details": details,
            "prev_hash": prev_hash,
        }
    )


def is_redacted(inputs: dict[str, Any]) -> bool:
    """True for inputs an erasure replaced: their digest can no longer be checked."""
    return inputs.get("_redacted") is True


def redacted(inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs with the customer's facts and every text removed, marked as redacted."""
    return {"_redacted": True, **{key: inputs[key] for key in KEPT_WHEN_REDACTED if key in inputs}}


async def redact_conversations(session: AsyncSession, conversation_ids: Sequence[str]) -> int:
    """In the caller's transaction: redact the inputs of these conversations' records; how many changed.

    The records stay, with their hashes: each hash covers the inputs' digest, so the chain still verifies.
    """
    if not conversation_ids:
        return 0
    query = select(AuditRecord).where(AuditRecord.conversation_id.in_(conversation_ids))
    changed = 0
    for record in await session.scalars(query):
        if record.inputs and not is_redacted(record.inputs):
            record.inputs = redacted(record.inputs)
            changed += 1
    await session.flush()
    return changed


async def append(session: AsyncSession, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """Append `entries` in the caller's transaction, so they commit (or roll back) with its other writes.

    Use it inside `Sessions.begin()`: on SQLite that is what serialises writers.
    """
    if not entries:
        return []
    head = await _locked_head(session)
    old_seq, old_hash = head.seq, head.hash
    records: list[AuditRecord] = []
    seq, prev_hash = old_seq, old_hash
    for entry in entries:
        seq += 1
        record = _link(seq, prev_hash, entry)
        records.append(record)
        prev_hash = record.hash
    session.add_all(records)
    # Compare-and-set: even a writer that skipped the lock cannot fork the chain, only fail.
    moved = await session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID, AuditHead.seq == old_seq, AuditHead.hash == old_hash)
        .values(seq=seq, hash=prev_hash)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditConflict(f"the audit head moved from {old_seq} while appending")
    await session.flush()
    return records


def _link(seq: int, prev_hash: str, entry: AuditEntry) -> AuditRecord:
    if entry.kind not in AUDIT_KINDS:
        raise ValueError(f"unknown audit kind {entry.kind!r}; expected one of {', '.join(AUDIT_KINDS)}")
    if entry.at is not None and entry.at.tzinfo is None:
        raise ValueError("AuditEntry.at must be timezone-aware")
    # UTC before storing: SQLite keeps the wall time and drops the offset.
    at = (entry.at or utcnow()).astimezone(UTC)
    # Store exactly what was hashed (tuples become lists, keys strings), so a reread hashes the same.
    inputs: dict[str, Any] = json.loads(canonical_json(entry.inputs))
    details: dict[str, Any] = json.loads(canonical_json(entry.details))
    record = AuditRecord(
        seq=seq,
        at=at,
        kind=entry.kind,
        conversation_id=entry.conversation_id,
        actor=entry.actor,
        inputs=inputs,
        inputs_digest=digest(inputs),
        details=details,
        prev_hash=prev_hash,
    )
    record.hash = record_hash(record)
    return record


def record_hash(record: AuditRecord) -> str:
    """The hash a record's own fields give: what it was written with, unless someone changed it."""
    return link_hash(
        record.seq,
        record.at,
        record.kind,
        record.conversation_id,
        record.actor,
        record.inputs_digest,
        record.details,
        record.prev_hash,
    )


async def _locked_head(session: AsyncSession) -> AuditHead:
    """The head row, locked until the transaction ends (PostgreSQL), created on the first append."""
    query = (
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = (await session.scalars(query)).one_or_none()
    if head is None:
        # Two first appends at once: the loser's insert does nothing and it then locks the winner's row.
        await session.execute(_insert_head(session.get_bind().dialect.name))
        head = (await session.scalars(query)).one()
    return head


def _insert_head(dialect: str) -> Insert:
    values = {"id": HEAD_ID, "seq": 0, "hash": GENESIS}
    if dialect == "postgresql":
        return postgresql.insert(AuditHead).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(AuditHead).values(values).on_conflict_do_nothing()
    return insert(AuditHead).values(values)


class AuditLog:
    """Append decisions to the chain, read them back, and check that nobody changed them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def append(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Append in a transaction of its own."""
        async with self._sessions.begin() as session:
            return await append(session, entries)

    async def trail(self, conversation_id: str) -> list[AuditRecord]:
        """One conversation's records in order."""
        async with self._sessions() as session:
            query = (
                select(AuditRecord)
                .where(AuditRecord.conversation_id == conversation_id)
                .order_by(AuditRecord.seq)
            )
            return list(await session.scalars(query))

    async def records(
        self, kind: AuditKind | None = None, since_seq: int = 0, limit: int | None = None
    ) -> list[AuditRecord]:
        """Records after `since_seq` in order, optionally of one kind and at most `limit` of them."""
        query = select(AuditRecord).where(AuditRecord.seq > since_seq).order_by(AuditRecord.seq)
        if kind is not None:
            query = query.where(AuditRecord.kind == kind)
        if limit is not None:
            query = query.limit(limit)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def head(self) -> AuditHead | None:
        """The chain's last link as the head row records it, None before the first append."""
        async with self._sessions() as session:
            return await session.get(AuditHead, HEAD_ID)

    async def verify(self, batch_size: int = VERIFY_BATCH) -> VerifyReport:
        """Walk the chain in seq order and report the first record that breaks it."""
        checked = 0
        last_seq, last_hash = 0, GENESIS
        while True:
            batch = await self._batch(last_seq, batch_size)
            if not batch:
                # Read the head only after the walk: a record seen committed means the head had reached it,
                # so a head behind the walk is tampering while a head ahead may be a concurrent append.
                head = await self.head()
                if head is not None and head.seq > last_seq and await self._batch(last_seq, 1):
                    continue
                return _check_head(head, checked, last_seq, last_hash)
            for record in batch:
                checked += 1
                problem = _check_record(record, last_seq, last_hash)
                if problem is not None:
                    head = await self.head()
                    bad_seq = last_seq + 1 if record.seq > last_seq + 1 else record.seq
                    return _broken(checked, head, bad_seq, problem)
                last_seq, last_hash = record.seq, record.hash

    async def _batch(self, after_seq: int, size: int) -> list[AuditRecord]:
        # A session per batch, so the identity map never holds the whole log.
        async with self._sessions() as session:
            query = (
                select(AuditRecord).where(AuditRecord.seq > after_seq).order_by(AuditRecord.seq).limit(size)
            )
            return list(await session.scalars(query))


def _check_record(record: AuditRecord, prev_seq: int, prev_hash: str) -> str | None:
    """What is wrong with `record` as the successor of (prev_seq, prev_hash), or None."""
    expected = prev_seq + 1
    if record.seq != expected:
        if record.seq < expected:
            return f"record {record.seq} is out of sequence: the log should continue at {expected}"
        if prev_seq == 0:
            return f"record {expected} is missing (the log starts at {record.seq})"
        return f"record {expected} is missing (the log jumps from {prev_seq} to {record.seq})"
    if record.prev_hash != prev_hash:
        before = "the genesis hash" if prev_seq == 0 else f"record {prev_seq}'s hash"
        return (
            f"record {record.seq} is not linked to the record before it: its prev_hash is not {before} "
            "(records were reordered, relinked or replaced)"
        )
    if record_hash(record) != record.hash:
        return f"record {record.seq} was altered: its hash does not match its contents"
    if not is_redacted(record.inputs) and digest(record.inputs) != record.inputs_digest:
        return f"record {record.seq}'s inputs were altered: they do not match their digest"
    return None


def _check_head(head: AuditHead | None, checked: int, last_seq: int, last_hash: str) -> VerifyReport:
    """Compare the end of the walk with the head row: this is what exposes a truncated tail."""
    if head is None:
        if last_seq == 0:
            return VerifyReport(ok=True, records=0, head_seq=0, first_bad_seq=None, problem=None)
        problem = f"records 1 to {last_seq} are present but the audit head row is missing"
        return _broken(checked, head, last_seq, problem)
    if head.seq > last_seq:
        end = "is empty" if last_seq == 0 else f"ends at {last_seq}"
        after = "all records" if last_seq == 0 else f"records after {last_seq}"
        problem = f"the log {end} but its head says {head.seq}: {after} were deleted"
        return _broken(checked, head, last_seq + 1, problem)
    if head.seq < last_seq:
        problem = (
            f"the log ends at {last_seq} but its head says {head.seq}: "
            f"the head was altered or records after {head.seq} were added without it"
        )
        return _broken(checked, head, head.seq + 1, problem)
    if head.hash != last_hash:
        what = "the genesis hash" if last_seq == 0 else f"the hash of record {last_seq}, the last one"
        return _broken(checked, head, last_seq, f"the audit head's hash is not {what}: the head was altered")
    return VerifyReport(ok=True, records=checked, head_seq=head.seq, first_bad_seq=None, problem=None)


def _broken(checked: int, head: AuditHead | None, bad_seq: int, problem: str) -> VerifyReport:
    head_seq = head.seq if head is not None else 0
    return VerifyReport(ok=False, records=checked, head_seq=head_seq, first_bad_seq=bad_seq, problem=problem)
