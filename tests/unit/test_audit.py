"""The audit log: appends chain, and verify names the first record someone with database access changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.audit import (
    GENESIS,
    AuditConflict,
    AuditEntry,
    AuditLog,
    VerifyReport,
    append,
    digest,
    link_hash,
    record_hash,
)
from app.store.database import Sessions, default_url
from app.store.models import AuditRecord
from app.store.store import open_store


@dataclass(frozen=True)
class Audit:
    engine: AsyncEngine
    sessions: Sessions
    log: AuditLog

    async def sql(self, statement: str, **params: Any) -> None:
        """Change the tables behind the log's back, as someone with database access would."""
        async with self.engine.begin() as connection:
            await connection.execute(text(statement), params)


@pytest.fixture
async def audit(tmp_path: Path) -> AsyncIterator[Audit]:
    async with open_store(default_url(tmp_path)) as store:
        sessions = Sessions(store.engine)
        yield Audit(store.engine, sessions, AuditLog(sessions))


def entry(n: int, conversation_id: str | None = "c1", **overrides: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "kind": "routing_decision",
        "actor": "router",
        "conversation_id": conversation_id,
        "inputs": {"message": f"message {n}", "customer": {"id": "cust-1", "tier": "business"}},
        "details": {"route": "billing", "rule": f"rule-{n}", "confidence": 0.5 + n / 100},
    }
    return AuditEntry(**{**values, **overrides})


async def filled(audit: Audit, n: int = 5) -> list[AuditRecord]:
    return await audit.log.append([entry(i) for i in range(1, n + 1)])


def assert_broken(report: VerifyReport, bad_seq: int, *words: str) -> None:
    assert not report.ok, report
    assert report.first_bad_seq == bad_seq, report
    assert report.problem is not None
    for word in words:
        assert word in report.problem, report.problem
    assert f"record {bad_seq}" in str(report)


async def test_appends_form_a_contiguous_chain_ending_at_the_head(audit: Audit) -> None:
    first = await audit.log.append([entry(1), entry(2)])
    second = await audit.log.append([entry(3)])
    third = await audit.log.append([entry(4, kind="human_action", actor="alice"), entry(5)])
    assert [r.seq for r in first + second + third] == [1, 2, 3, 4, 5]

    stored = await audit.log.records()
    assert [r.seq for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == GENESIS
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.hash
    assert len({r.hash for r in stored}) == 5
    for record in stored:
        assert record.hash == record_hash(record)
        assert record.inputs_digest == digest(record.inputs)
        assert record.at.tzinfo is not None

    head = await audit.log.head()
    assert head is not None
    assert (head.seq, head.hash) == (5, stored[-1].hash)
    assert [r.hash for r in first + second + third] == [r.hash for r in stored]


async def test_append_of_nothing_writes_nothing(audit: Audit) -> None:
    assert await audit.log.append([]) == []
    assert await audit.log.head() is None


async def test_records_filters_by_kind_and_pages_by_seq(audit: Audit) -> None:
    await audit.log.append(
        [entry(1), entry(2, kind="policy_change", conversation_id=None), entry(3), entry(4)]
    )
    assert [r.seq for r in await audit.log.records(kind="routing_decision")] == [1, 3, 4]
    assert [r.seq for r in await audit.log.records(kind="policy_change")] == [2]
    assert [r.seq for r in await audit.log.records(since_seq=2, limit=1)] == [3]


async def test_untouched_and_empty_logs_verify(audit: Audit) -> None:
    empty = await audit.log.verify()
    assert (empty.ok, empty.records, empty.head_seq, empty.first_bad_seq) == (True, 0, 0, None)

    await filled(audit, 7)
    report = await audit.log.verify(batch_size=3)  # batches end at 3 and 6, and one is partial
    assert (report.ok, report.records, report.head_seq, report.problem) == (True, 7, 7, None)
    assert "ok" in str(report)


async def test_a_timestamp_in_another_offset_is_hashed_as_utc(audit: Audit) -> None:
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    [record] = await audit.log.append([entry(1, at=at)])
    [stored] = await audit.log.records()
    assert stored.at == at
    assert stored.at.utcoffset() == timedelta(0)
    assert stored.hash == record.hash
    assert (await audit.log.verify()).ok


async def test_a_naive_timestamp_is_refused(audit: Audit) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await audit.log.append([entry(1, at=datetime(2026, 3, 1, 12, 0))])
    assert await audit.log.head() is None


async def test_editing_details_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET details = :details WHERE seq = 3", details='{"route": "refunds"}')
    assert_broken(await audit.log.verify(), 3, "record 3 was altered", "hash")


async def test_editing_the_actor_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")
    assert_broken(await audit.log.verify(), 4, "record 4 was altered")


async def test_editing_the_time_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET at = '2020-01-01 00:00:00.000000' WHERE seq = 2")
    assert_broken(await audit.log.verify(), 2, "record 2 was altered")


async def test_editing_inputs_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET inputs = :inputs WHERE seq = 5", inputs='{"message": "hello"}')
    assert_broken(await audit.log.verify(), 5, "record 5's inputs were altered")


async def test_redacted_inputs_still_verify(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET inputs = :inputs WHERE seq = 2", inputs='{"_redacted": true}')
    report = await audit.log.verify()
    assert report.ok, report
    assert report.records == 5


async def test_inputs_marked_redacted_other_than_true_are_still_checked(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET inputs = :inputs WHERE seq = 2", inputs='{"_redacted": "yes"}')
    assert_broken(await audit.log.verify(), 2, "inputs were altered")


async def test_deleting_a_middle_record_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("DELETE FROM audit_log WHERE seq = 3")
    assert_broken(await audit.log.verify(), 3, "record 3 is missing", "jumps from 2 to 4")


async def test_deleting_the_first_record_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("DELETE FROM audit_log WHERE seq = 1")
    assert_broken(await audit.log.verify(), 1, "record 1 is missing", "starts at 2")


async def test_a_gap_at_a_batch_boundary_is_caught(audit: Audit) -> None:
    await filled(audit, 8)
    await audit.sql("DELETE FROM audit_log WHERE seq = 5")
    assert_broken(await audit.log.verify(batch_size=4), 5, "record 5 is missing", "jumps from 4 to 6")


async def test_deleting_the_last_record_is_caught_by_the_head(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("DELETE FROM audit_log WHERE seq = 5")
    report = await audit.log.verify()
    assert_broken(report, 5, "ends at 4 but its head says 5", "records after 4 were deleted")
    assert report.records == 4


async def test_deleting_every_record_is_caught_by_the_head(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("DELETE FROM audit_log")
    assert_broken(await audit.log.verify(), 1, "is empty but its head says 5")


async def test_swapping_two_records_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    await audit.sql("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    await audit.sql("UPDATE audit_log SET seq = 3 WHERE seq = -1")
    assert_broken(await audit.log.verify(), 2, "record 2 is not linked", "reordered")


async def test_relinking_a_record_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_log SET prev_hash = :h WHERE seq = 4", h="f" * 64)
    assert_broken(await audit.log.verify(), 4, "record 4 is not linked")


async def test_editing_the_head_hash_is_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("UPDATE audit_head SET hash = :h", h="f" * 64)
    assert_broken(await audit.log.verify(), 5, "head's hash", "record 5", "head was altered")


async def test_moving_the_head_back_is_caught(audit: Audit) -> None:
    records = await filled(audit)
    await audit.sql("UPDATE audit_head SET seq = 3, hash = :h", h=records[2].hash)
    assert_broken(await audit.log.verify(), 4, "ends at 5 but its head says 3")


async def test_records_without_a_head_are_caught(audit: Audit) -> None:
    await filled(audit)
    await audit.sql("DELETE FROM audit_head")
    assert_broken(await audit.log.verify(), 5, "head row is missing")


async def test_the_first_of_several_problems_is_named(audit: Audit) -> None:
    await filled(audit, 8)
    await audit.sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 6")
    await audit.sql("DELETE FROM audit_log WHERE seq = 3")
    await audit.sql("DELETE FROM audit_log WHERE seq = 8")
    report = await audit.log.verify()
    assert_broken(report, 3, "record 3 is missing")
    assert report.records == 3  # records 1, 2 and then 4, where the gap shows


async def test_an_append_in_a_rolled_back_transaction_leaves_no_trace(audit: Audit) -> None:
    records = await filled(audit, 2)
    with pytest.raises(RuntimeError, match="turn failed"):
        async with audit.sessions.begin() as session:
            appended = await append(session, [entry(3), entry(4)])
            assert [r.seq for r in appended] == [3, 4]
            raise RuntimeError("turn failed")
    assert [r.seq for r in await audit.log.records()] == [1, 2]
    head = await audit.log.head()
    assert head is not None
    assert (head.seq, head.hash) == (2, records[-1].hash)
    assert [r.seq for r in await audit.log.append([entry(3)])] == [3]
    assert (await audit.log.verify()).ok


async def test_an_append_commits_with_the_callers_transaction(audit: Audit) -> None:
    async with audit.sessions.begin() as session:
        await append(session, [entry(1)])
        await append(session, [entry(2)])  # a second append in one transaction continues the chain
    assert [r.seq for r in await audit.log.records()] == [1, 2]
    assert (await audit.log.verify()).ok


async def test_concurrent_appends_never_fork(audit: Audit) -> None:
    results = await asyncio.gather(
        *(audit.log.append([entry(i, conversation_id=f"c{i}")]) for i in range(20))
    )
    assert sorted(r.seq for batch in results for r in batch) == list(range(1, 21))
    assert [r.seq for r in await audit.log.records()] == list(range(1, 21))
    report = await audit.log.verify()
    assert (report.ok, report.records, report.head_seq) == (True, 20, 20)


async def test_concurrent_first_appends_share_one_head(audit: Audit) -> None:
    """Two logs over one engine (two writers' locks): the head row and the seq key still serialise them."""
    other = AuditLog(Sessions(audit.engine))
    results = await asyncio.gather(
        *(log.append([entry(i)]) for i, log in enumerate([audit.log, other] * 3)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(f, IntegrityError | AuditConflict) for f in failures), failures
    appended = sorted(r.seq for batch in results if not isinstance(batch, BaseException) for r in batch)
    assert appended == list(range(1, len(appended) + 1))
    report = await audit.log.verify()
    assert report.ok, report
    assert report.records == len(appended) >= 1


async def test_trail_is_one_conversations_records_in_order(audit: Audit) -> None:
    await audit.log.append([entry(1, "a"), entry(2, "b"), entry(3, "a")])
    await audit.log.append([entry(4, None, kind="policy_change"), entry(5, "a")])
    trail = await audit.log.trail("a")
    assert [r.seq for r in trail] == [1, 3, 5]
    assert [r.details["rule"] for r in trail] == ["rule-1", "rule-3", "rule-5"]
    assert await audit.log.trail("nobody") == []


async def test_stored_values_are_exactly_what_was_hashed(audit: Audit) -> None:
    await audit.log.append(
        [entry(1, inputs={"ids": (1, 2), "text": "naïve café"}, details={2: "two", 10: "ten"})]
    )
    [stored] = await audit.log.records()
    assert stored.inputs == {"ids": [1, 2], "text": "naïve café"}
    assert stored.details == {"10": "ten", "2": "two"}
    assert (await audit.log.verify()).ok


async def test_unknown_kinds_and_non_json_values_are_refused(audit: Audit) -> None:
    with pytest.raises(ValueError, match="unknown audit kind"):
        await audit.log.append([entry(1, kind="whim")])
    with pytest.raises(TypeError):
        await audit.log.append([entry(1, details={"when": datetime.now(UTC)})])
    with pytest.raises(ValueError):
        await audit.log.append([entry(1, details={"score": float("nan")})])
    assert await audit.log.head() is None


def test_link_hash_depends_on_the_instant_not_its_offset() -> None:
    utc = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    args: tuple[Any, ...] = ("routing_decision", "c1", "router", "d" * 64, {"route": "billing"}, GENESIS)
    assert link_hash(1, utc, *args) == link_hash(1, paris, *args)
    assert link_hash(1, utc, *args) != link_hash(1, utc + timedelta(microseconds=1), *args)
    assert link_hash(1, utc, *args) != link_hash(2, utc, *args)
