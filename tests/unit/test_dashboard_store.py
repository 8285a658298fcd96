"""The dashboard's SQL aggregates on a hand-seeded store, against numbers worked out by hand.

The seed (T0 = 2026-03-02 00:00 UTC, window [T0, T0 + 1 day), judged at T0 + 25 h):

routing decisions in the window (one per routed turn)
  #  at     version category        confidence status             escalated reason
  1  T0+1h  1       billing         0.95       answered           no
  2  T0+2h  1       billing         0.85       waiting_for_human  yes  risk:duplicate_charge,frustration
  3  T0+3h  1       account_access  0.45       waiting_for_human  yes  low_confidence
  4  T0+4h  2       refund          0.72       waiting_for_human  yes  refund_requires_approval
  5  T0+5h  2       technical       0.99       answered           no
  6  T0+6h  2       technical       1.00       closed             no
  7  T0+7h  1       (inputs redacted)          answered           no
plus, not counted: one an hour before T0, one at exactly T0 + 1 day (the end is exclusive), and a
human action in the window.

reviews created in the window
  R1 vip    v1  created T0+2h  FR due +15m  claimed +5m, responded and resolved +10m (due +4h)
  R2 vip    v1  created T0+3h  FR due +15m  never claimed, responded and resolved +30m  (due +4h)
  R3 basic  v2  created T0+4h  FR due +8h   claimed +1h, pending (FR past due at T0+25h; resolution due +72h)
  R4 basic  v2  created T0+20h FR due +8h   pending, unclaimed (FR due at T0+28h: still running)
  R5 (no SLA, no policy) created T0+21h, pending
plus R6 (vip) created two hours before T0, not counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.store.audit import AuditEntry
from app.store.dashboard import DashboardStore, Window, bucket_width
from app.store.database import Sessions
from app.store.models import Conversation, PolicyDeployment, PolicyVersion, Review
from app.store.store import AppStore, open_store

T0 = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(days=1))
NOW = T0 + timedelta(hours=25)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def decision(
    at: datetime,
    version: str,
    category: str | None,
    confidence: float | None,
    status: str,
    reason: str | None = None,
    kind: Any = "routing_decision",
) -> AuditEntry:
    inputs: dict[str, Any] = (
        {"_redacted": True} if category is None else {"category": category, "confidence": confidence}
    )
    return AuditEntry(
        kind=kind,
        actor="router",
        conversation_id="c1",
        inputs=inputs,
        details={
            "turn": 1,
            "policy": {"policy_version": version, "sla_class": "basic"},
            "outcome": {"status": status, "escalated": reason is not None, "escalation_reason": reason},
        },
        at=at,
    )


DECISIONS = [
    decision(hours(1), "1", "billing", 0.95, "answered"),
    decision(hours(2), "1", "billing", 0.85, "waiting_for_human", "risk:duplicate_charge,frustration"),
    decision(hours(3), "1", "account_access", 0.45, "waiting_for_human", "low_confidence"),
    decision(hours(4), "2", "refund", 0.72, "waiting_for_human", "refund_requires_approval"),
    decision(hours(5), "2", "technical", 0.99, "answered"),
    decision(hours(6), "2", "technical", 1.0, "closed"),
    decision(hours(7), "1", None, None, "answered"),
    # Not in the window, or not a routing decision.
    decision(hours(-1), "1", "billing", 0.9, "answered"),
    decision(hours(24), "1", "billing", 0.9, "answered"),
    decision(hours(8), "1", "billing", 0.9, "answered", kind="human_action"),
]


def review(
    review_id: str,
    created: datetime,
    sla_class: str | None,
    version: str | None,
    first_response_in: timedelta | None,
    resolution_in: timedelta | None,
    claimed_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
) -> Review:
    resolved_at = created + resolved_after if resolved_after is not None else None
    return Review(
        id=review_id,
        conversation_id=f"conv-{review_id}",
        customer_id=None,
        turn=1,
        reason="test",
        payload={},
        waiting_messages=[],
        status="resolved" if resolved_at else "pending",
        claimed_by="ana" if claimed_after is not None else None,
        claimed_at=created + claimed_after if claimed_after is not None else None,
        created_at=created,
        resolved_at=resolved_at,
        first_responded_at=resolved_at,
        priority="high",
        sla_class=sla_class,
        value_score=50.0,
        policy_version=version,
        first_response_due=created + first_response_in if first_response_in is not None else None,
        resolution_due=created + resolution_in if resolution_in is not None else None,
    )


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def reviews() -> list[Review]:
    """Fresh objects each time: a mapped object belongs to the first store it was added to."""
    return [
        review(
            "R1",
            hours(2),
            "vip",
            "1",
            15 * MINUTE,
            4 * HOUR,
            claimed_after=5 * MINUTE,
            resolved_after=10 * MINUTE,
        ),
        review("R2", hours(3), "vip", "1", 15 * MINUTE, 4 * HOUR, resolved_after=30 * MINUTE),
        review("R3", hours(4), "basic", "2", 8 * HOUR, 72 * HOUR, claimed_after=HOUR),
        review("R4", hours(20), "basic", "2", 8 * HOUR, 72 * HOUR),
        review("R5", hours(21), None, None, None, None),
        review("R6", hours(-2), "vip", "1", 15 * MINUTE, 4 * HOUR),
    ]


async def seed(store: AppStore, canary_percent: float = 25.0) -> None:
    sessions = Sessions(store.engine)
    async with sessions.begin() as session:
        session.add_all(
            Conversation(id=f"conv-{r.id}", created_by="widget", status="waiting_for_human")
            for r in reviews()
        )
        session.add_all(
            PolicyVersion(version=v, name="p", document="", digest="d", status="approved", proposed_by="a")
            for v in (1, 2)
        )
    async with sessions.begin() as session:
        session.add_all(reviews())
        session.add(
            PolicyDeployment(
                active_version=1, canary_version=2, canary_percent=canary_percent, action="canary", actor="a"
            )
        )
    await store.audit.append(DECISIONS)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The store the seed goes into (tests/postgres runs these tests again on PostgreSQL)."""
    return f"sqlite+aiosqlite:///{tmp_path}/app.db"


@pytest.fixture
async def dashboard(store_url: str) -> AsyncIterator[DashboardStore]:
    async with open_store(store_url) as store:
        await seed(store)
        yield DashboardStore(store.engine)


async def test_escalation_rate_by_reason(dashboard: DashboardStore) -> None:
    result = await dashboard.escalations(WINDOW)
    assert (result.turns, result.escalated, result.escalation_rate) == (7, 3, 0.4286)
    assert [(r.reason, r.turns, r.rate) for r in result.reasons] == [
        ("low_confidence", 1, 0.1429),
        ("refund_requires_approval", 1, 0.1429),
        ("risk:duplicate_charge", 1, 0.1429),  # a turn with two signals counts under both
        ("risk:frustration", 1, 0.1429),
    ]


async def test_deflection_overall_and_hourly(dashboard: DashboardStore) -> None:
    result = await dashboard.deflection(WINDOW)
    assert (result.turns, result.automated, result.rate) == (7, 3, 0.4286)
    assert (result.bucket, result.bucket_seconds, len(result.series)) == ("hour", 3600, 24)
    assert result.series[0].start == T0 and result.series[23].start == hours(23)
    by_hour = {i: (p.turns, p.automated) for i, p in enumerate(result.series) if p.turns}
    assert by_hour == {1: (1, 1), 2: (1, 0), 3: (1, 0), 4: (1, 0), 5: (1, 1), 6: (1, 0), 7: (1, 1)}
    assert result.series[0].rate is None and result.series[5].rate == 1.0


async def test_volume_per_category(dashboard: DashboardStore) -> None:
    result = await dashboard.volume(WINDOW)
    assert result.turns == 7
    assert [(c.category, c.turns, c.automated, c.escalated) for c in result.categories] == [
        ("billing", 2, 1, 1),
        ("technical", 2, 1, 0),  # the closed turn is neither automated nor escalated
        ("account_access", 1, 0, 1),
        ("refund", 1, 0, 1),
        ("unknown", 1, 1, 0),  # redacted inputs
    ]


async def test_confidence_distribution(dashboard: DashboardStore) -> None:
    result = await dashboard.confidence(WINDOW)
    assert result.turns == 6  # the redacted decision has no confidence
    assert result.mean == 0.8267  # (0.95 + 0.85 + 0.45 + 0.72 + 0.99 + 1.0) / 6
    assert len(result.bins) == 10 and (result.bins[0].lower, result.bins[9].upper) == (0.0, 1.0)
    counts = {
        i: (b.not_escalated, b.escalated) for i, b in enumerate(result.bins) if b.not_escalated or b.escalated
    }
    assert counts == {4: (0, 1), 7: (0, 1), 8: (0, 1), 9: (3, 0)}  # 1.0 falls in the last bin


async def test_sla_attainment_per_tier(dashboard: DashboardStore) -> None:
    result = await dashboard.sla(WINDOW, NOW)
    tiers = {t.sla_class: t for t in result.tiers}
    assert list(tiers) == ["basic", "unknown", "vip"]
    vip, basic, unknown = tiers["vip"], tiers["basic"], tiers["unknown"]
    assert vip.reviews == 2
    assert vip.first_response.model_dump() == {
        "met": 1,
        "missed": 1,
        "breached": 0,
        "running": 0,
        "attainment": 0.5,
    }
    assert vip.resolution.model_dump() == {
        "met": 2,
        "missed": 0,
        "breached": 0,
        "running": 0,
        "attainment": 1.0,
    }
    assert basic.first_response.model_dump() == {
        "met": 0,
        "missed": 0,
        "breached": 1,  # R3: nobody has written yet and it was due at T0+12h
        "running": 1,  # R4: due at T0+28h
        "attainment": 0.0,
    }
    assert basic.resolution.attainment is None and basic.resolution.running == 2
    assert unknown.reviews == 1 and unknown.first_response.attainment is None
    overall = result.overall
    assert (overall.sla_class, overall.reviews) == ("all", 5)
    assert (overall.first_response.met, overall.first_response.attainment) == (1, 0.3333)
    assert (overall.resolution.met, overall.resolution.running, overall.resolution.attainment) == (2, 2, 1.0)


async def test_response_times(dashboard: DashboardStore) -> None:
    result = await dashboard.response_times(WINDOW)
    tiers = {t.sla_class: t for t in result.tiers}
    vip = tiers["vip"]
    # R1 acknowledged by its claim after 5 min, R2 (never claimed) by the decision after 30 min.
    assert (vip.acknowledged, vip.mtta_seconds) == (2, 1050.0)
    assert (vip.resolved, vip.mttr_seconds, vip.max_ttr_seconds) == (2, 1200.0, 1800.0)
    basic = tiers["basic"]
    assert (basic.reviews, basic.acknowledged, basic.mtta_seconds, basic.resolved, basic.mttr_seconds) == (
        2,
        1,
        3600.0,
        0,
        None,
    )
    assert tiers["unknown"].mtta_seconds is None
    overall = result.overall
    assert (overall.reviews, overall.acknowledged, overall.mtta_seconds) == (5, 3, 1900.0)
    assert (overall.resolved, overall.mttr_seconds, overall.max_ttr_seconds) == (2, 1200.0, 1800.0)


async def test_policy_versions_side_by_side(dashboard: DashboardStore) -> None:
    result = await dashboard.policy_versions(WINDOW, NOW)
    assert (result.active_version, result.canary_version) == ("1", "2")
    rows = [
        (
            v.policy_version,
            v.role,
            v.canary_percent,
            v.turns,
            v.escalation_rate,
            v.automated_resolution_rate,
            v.reviews,
            v.first_response_attainment,
            v.resolution_attainment,
        )
        for v in result.versions
    ]
    assert rows == [
        ("1", "active", None, 4, 0.5, 0.5, 2, 0.5, 1.0),
        ("2", "canary", 25.0, 3, 0.3333, 0.3333, 2, 0.0, None),
        ("unknown", "inactive", None, 0, None, None, 1, None, None),
    ]


async def test_a_stopped_canary_is_not_shown_as_one(store_url: str) -> None:
    async with open_store(store_url) as store:
        await seed(store, canary_percent=0.0)
        result = await DashboardStore(store.engine).policy_versions(WINDOW, NOW)
    assert result.canary_version is None
    assert {v.policy_version: v.role for v in result.versions}["2"] == "inactive"


async def test_an_empty_window_has_no_rates(dashboard: DashboardStore) -> None:
    empty = Window(hours(-100), hours(-50))
    assert (await dashboard.escalations(empty)).escalation_rate is None
    deflection = await dashboard.deflection(empty)
    assert (deflection.turns, deflection.rate, deflection.bucket) == (0, None, "hour")
    assert all(p.turns == 0 and p.rate is None for p in deflection.series)
    assert (await dashboard.volume(empty)).categories == []
    confidence = await dashboard.confidence(empty)
    assert (confidence.turns, confidence.mean) == (0, None)
    sla = await dashboard.sla(empty, NOW)
    assert sla.tiers == [] and sla.overall.reviews == 0 and sla.overall.first_response.attainment is None
    times = await dashboard.response_times(empty)
    assert times.tiers == [] and times.overall.mtta_seconds is None


@pytest.mark.parametrize(
    ("span", "bucket", "count"),
    [
        (timedelta(hours=1), "hour", 1),
        (timedelta(days=5), "hour", 120),
        (timedelta(days=7), "6 hours", 28),
        (timedelta(days=90), "day", 90),
        (timedelta(days=365), "week", 53),
        (timedelta(days=3650), "year", 10),
    ],
)
def test_bucket_width_keeps_series_short(span: timedelta, bucket: str, count: int) -> None:
    name, seconds = bucket_width(Window(T0, T0 + span))
    assert name == bucket
    assert -(-span.total_seconds() // seconds) == count


def test_a_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="before"):
        Window(T0, T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))


async def test_the_last_instant_of_a_window_is_in_its_last_bucket(store_url: str) -> None:
    window = Window(T0, hours(1))
    async with open_store(store_url) as store:
        await store.audit.append(
            [decision(hours(1) - timedelta(microseconds=200), "1", "billing", 0.9, "answered")]
        )
        result = await DashboardStore(store.engine).deflection(window)
    assert (result.turns, len(result.series)) == (1, 1)
    assert (result.series[0].turns, result.series[0].automated) == (1, 1)
