"""The supervisor dashboard's numbers: SQL aggregates over the app store within a time window.

Turn metrics (escalations, deflection, volume, confidence, policy versions) count the audit log's
routing decisions: exactly one per routed customer turn, written with the turn, holding the policy's
decision, the triage category and confidence (in the minimised inputs) and the outcome. They are the
records `/v1/policies/metrics` counts, so the two agree. Review metrics (SLA attainment, MTTA, MTTR)
read the reviews table. A decision is in a window when it was made in it, a review when it was
created in it; windows are half-open, `since <= t < until`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Executable, Float, Integer, and_, case, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.models import AuditRecord, PolicyDeployment, Review

UNKNOWN = "unknown"
"""The label of a group whose key was not recorded (a redacted decision, a review from before SLAs)."""
CONFIDENCE_BINS = 10
MAX_BUCKETS = 120
"""At most this many points in a time series; the bucket width grows with the window."""
BUCKET_WIDTHS: tuple[tuple[str, int], ...] = (
    ("hour", 3600),
    ("6 hours", 6 * 3600),
    ("day", 86400),
    ("week", 7 * 86400),
    ("30 days", 30 * 86400),
    ("year", 365 * 86400),
)
UNIX_EPOCH_JULIAN_DAY = 2440587.5
EPOCH_SLACK_SECONDS = 0.001


@dataclass(frozen=True)
class Window:
    """A half-open time window, `since <= t < until`, in UTC."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("a window's bounds must be timezone-aware")
        if self.since >= self.until:
            raise ValueError("a window's `since` must be before its `until`")

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()


class WindowOut(BaseModel):
    """The window the numbers cover: decisions made and reviews created in `since <= t < until`."""

    since: datetime
    until: datetime


def window_out(window: Window) -> WindowOut:
    return WindowOut(since=window.since, until=window.until)


# SLA attainment -------------------------------------------------------------------------------


class ClockTally(BaseModel):
    """How one SLA clock stands over a group of reviews."""

    met: int = Field(description="Stopped on or before its due time.")
    missed: int = Field(description="Stopped after its due time.")
    breached: int = Field(description="Still running and already past due.")
    running: int = Field(description="Still running and not yet due (no verdict yet).")
    attainment: float | None = Field(
        description="met / (met + missed + breached), 0 to 1; null while no clock has a verdict."
    )


class SlaTier(BaseModel):
    """SLA attainment of one service tier (the policy's SLA class: vip, priority, standard, basic)."""

    sla_class: str
    reviews: int = Field(description="Reviews created in the window (with SLA clocks or not).")
    first_response: ClockTally
    resolution: ClockTally


class SlaOut(BaseModel):
    """SLA attainment per service tier, and over all tiers."""

    window: WindowOut
    tiers: list[SlaTier] = Field(description="One row per SLA class with reviews, by name.")
    overall: SlaTier = Field(description="Every review of the window (`sla_class` is `all`).")


# Response times -------------------------------------------------------------------------------


class ResponseTimes(BaseModel):
    """MTTA and MTTR of one group of reviews, in seconds."""

    sla_class: str
    reviews: int
    acknowledged: int = Field(description="Reviews a person has claimed or answered.")
    mtta_seconds: float | None = Field(
        description="Mean time from the handoff to the first human acknowledgement (claim, or the "
        "decision when nobody claimed it first); null with none acknowledged."
    )
    resolved: int = Field(description="Reviews a person has decided.")
    mttr_seconds: float | None = Field(
        description="Mean time from the handoff to the reviewer's decision; null with none resolved."
    )
    max_ttr_seconds: float | None = Field(description="The longest time to resolution.")


class ResponseTimesOut(BaseModel):
    """Mean time to acknowledge and to resolve escalations, per service tier and overall."""

    window: WindowOut
    tiers: list[ResponseTimes]
    overall: ResponseTimes


# Escalations ----------------------------------------------------------------------------------


class EscalationReason(BaseModel):
    """One reason turns were handed to a person."""

    reason: str = Field(
        description="low_confidence, refund_requires_approval, loop_guard, policy:<rule>, "
        "risk:<signal> (one per signal), …"
    )
    turns: int
    rate: float = Field(description="Share of all routed turns of the window, 0 to 1.")


class EscalationsOut(BaseModel):
    """Escalation rate overall and by reason. A turn with two risk signals counts under both."""

    window: WindowOut
    turns: int = Field(description="Routed customer turns.")
    escalated: int
    escalation_rate: float | None = Field(description="escalated / turns; null with no turns.")
    reasons: list[EscalationReason] = Field(description="Most frequent first.")


# Deflection -----------------------------------------------------------------------------------


class DeflectionPoint(BaseModel):
    """One bucket of the deflection series."""

    start: datetime
    turns: int
    automated: int
    rate: float | None = Field(description="automated / turns; null for a bucket with no turns.")


class DeflectionOut(BaseModel):
    """Automated resolution: turns answered with no person involved, overall and over time."""

    window: WindowOut
    turns: int
    automated: int
    rate: float | None = Field(description="automated / turns; null with no turns.")
    bucket: str = Field(description="The series' bucket width: hour, 6 hours, day, week, 30 days or year.")
    bucket_seconds: int
    series: list[DeflectionPoint] = Field(description="Every bucket of the window, oldest first.")


# Volume ---------------------------------------------------------------------------------------


class CategoryVolume(BaseModel):
    """Turns of one triage category."""

    category: str
    turns: int
    automated: int
    escalated: int


class VolumeOut(BaseModel):
    """Routed turns per triage category."""

    window: WindowOut
    turns: int
    categories: list[CategoryVolume] = Field(description="Busiest first.")


# Policy versions ------------------------------------------------------------------------------


class PolicyVersionStats(BaseModel):
    """One policy version's record in the window."""

    policy_version: str
    role: Literal["active", "canary", "inactive"] = Field(
        description="What the version does in the deployment in force now."
    )
    canary_percent: float | None = Field(description="The canary's share of customers, for the canary.")
    turns: int
    escalation_rate: float | None
    automated_resolution_rate: float | None
    reviews: int
    first_response_attainment: float | None
    resolution_attainment: float | None


class PolicyVersionsOut(BaseModel):
    """Canary and active policy versions side by side (and any other version with traffic)."""

    window: WindowOut
    active_version: str | None
    canary_version: str | None
    versions: list[PolicyVersionStats] = Field(description="Active first, then canary, then the rest.")


# Confidence -----------------------------------------------------------------------------------


class ConfidenceBin(BaseModel):
    """Turns whose triage confidence fell in `lower <= confidence < upper` (the last bin includes 1)."""

    lower: float
    upper: float
    not_escalated: int = Field(description="Turns no person had to see (answered, or closed).")
    escalated: int


class ConfidenceOut(BaseModel):
    """The distribution of triage confidence, split by whether a person was needed."""

    window: WindowOut
    turns: int = Field(description="Turns with a recorded confidence.")
    mean: float | None
    bins: list[ConfidenceBin] = Field(description=f"{CONFIDENCE_BINS} bins of width 0.1.")


# Helpers --------------------------------------------------------------------------------------


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def bucket_width(window: Window) -> tuple[str, int]:
    """The narrowest bucket that splits the window into at most MAX_BUCKETS buckets."""
    for name, seconds in BUCKET_WIDTHS:
        if window.seconds / seconds <= MAX_BUCKETS:
            return name, seconds
    seconds = math.ceil(window.seconds / MAX_BUCKETS)
    return f"{seconds} seconds", seconds


class DashboardStore:
    """The dashboard's queries over the app store's engine (read-only)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # Dialect helpers: the only SQL that differs between SQLite and PostgreSQL.

    def _epoch(self, column: Any) -> ColumnElement[float]:
        """Seconds since 1970 of a timestamp column."""
        if self._dialect == "sqlite":
            return (func.julianday(column) - UNIX_EPOCH_JULIAN_DAY) * 86400.0
        return cast(extract("epoch", column), Float)

    def _floor(self, value: ColumnElement[float]) -> ColumnElement[int]:
        """The floor of a non-negative number."""
        if self._dialect == "sqlite":
            return cast(value, Integer)  # truncation is the floor for the non-negative values used here
        return cast(func.floor(value), Integer)

    async def _rows(self, query: Executable) -> Sequence[Any]:
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).all()

    # Routing decisions.

    @staticmethod
    def _decisions(window: Window) -> ColumnElement[bool]:
        return and_(
            AuditRecord.kind == "routing_decision",
            AuditRecord.at >= window.since,
            AuditRecord.at < window.until,
        )

    @staticmethod
    def _escalated() -> ColumnElement[bool]:
        return AuditRecord.details[("outcome", "escalated")].as_boolean().is_(True)

    @staticmethod
    def _automated() -> ColumnElement[bool]:
        # Answered at once with no person: what /v1/policies/metrics calls automated resolution.
        return and_(
            AuditRecord.details[("outcome", "status")].as_string() == "answered",
            func.coalesce(AuditRecord.details[("outcome", "escalated")].as_boolean(), False).is_(False),
        )

    async def escalations(self, window: Window) -> EscalationsOut:
        """Escalation rate overall and per reason."""
        totals = select(func.count(), _count_if(self._escalated())).where(self._decisions(window))
        ((turns, escalated),) = await self._rows(totals)
        reason = AuditRecord.details[("outcome", "escalation_reason")].as_string()
        by_reason = (
            select(reason, func.count()).where(self._decisions(window), self._escalated()).group_by(reason)
        )
        counts: dict[str, int] = {}
        for raw, count in await self._rows(by_reason):
            for label in _reason_labels(raw):
                counts[label] = counts.get(label, 0) + int(count)
        reasons = [
            EscalationReason(reason=label, turns=count, rate=_share(count, turns) or 0.0)
            for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        return EscalationsOut(
            window=window_out(window),
            turns=int(turns),
            escalated=int(escalated),
            escalation_rate=_share(int(escalated), int(turns)),
            reasons=reasons,
        )

    async def deflection(self, window: Window) -> DeflectionOut:
        """Automated resolution overall and per time bucket."""
        name, width = bucket_width(window)
        since_epoch = window.since.timestamp()
        # SQLite's julianday() is off by microseconds: a millisecond's slack keeps a decision made on a
        # bucket's first instant in that bucket.
        offset = self._epoch(AuditRecord.at) - since_epoch + EPOCH_SLACK_SECONDS
        bucket = self._floor(offset / float(width)).label("bucket")
        query = (
            select(bucket, func.count(), _count_if(self._automated()))
            .where(self._decisions(window))
            .group_by(bucket)
        )
        buckets = math.ceil(window.seconds / width)
        by_bucket: dict[int, tuple[int, int]] = {}
        for index, turns, automated in await self._rows(query):
            last = min(int(index), buckets - 1)  # the slack may carry the window's last instant over
            earlier_turns, earlier_automated = by_bucket.get(last, (0, 0))
            by_bucket[last] = (earlier_turns + int(turns), earlier_automated + int(automated))
        series = []
        for index in range(buckets):
            turns, automated = by_bucket.get(index, (0, 0))
            start = window.since + timedelta(seconds=index * width)
            series.append(
                DeflectionPoint(start=start, turns=turns, automated=automated, rate=_share(automated, turns))
            )
        turns = sum(t for t, _ in by_bucket.values())
        automated = sum(a for _, a in by_bucket.values())
        return DeflectionOut(
            window=window_out(window),
            turns=turns,
            automated=automated,
            rate=_share(automated, turns),
            bucket=name,
            bucket_seconds=width,
            series=series,
        )

    async def volume(self, window: Window) -> VolumeOut:
        """Turns per triage category, with how many were automated and escalated."""
        category = func.coalesce(AuditRecord.inputs["category"].as_string(), UNKNOWN).label("category")
        query = (
            select(category, func.count(), _count_if(self._automated()), _count_if(self._escalated()))
            .where(self._decisions(window))
            .group_by(category)
        )
        rows = [
            CategoryVolume(category=str(name), turns=int(turns), automated=int(auto), escalated=int(esc))
            for name, turns, auto, esc in await self._rows(query)
        ]
        rows.sort(key=lambda row: (-row.turns, row.category))
        return VolumeOut(window=window_out(window), turns=sum(r.turns for r in rows), categories=rows)

    async def confidence(self, window: Window) -> ConfidenceOut:
        """Triage confidence in ten bins, split by automated and escalated turns."""
        confidence = AuditRecord.inputs["confidence"].as_float()
        thresholds = [round((i + 1) / CONFIDENCE_BINS, 1) for i in range(CONFIDENCE_BINS - 1)]
        index = case(*((confidence < t, i) for i, t in enumerate(thresholds)), else_=CONFIDENCE_BINS - 1)
        binned = index.label("bin")
        query = (
            select(binned, _count_if(self._escalated()), func.count())
            .where(self._decisions(window), confidence.is_not(None))
            .group_by(binned)
        )
        counts = {int(i): (int(escalated), int(total)) for i, escalated, total in await self._rows(query)}
        bins = []
        for i in range(CONFIDENCE_BINS):
            escalated, total = counts.get(i, (0, 0))
            bins.append(
                ConfidenceBin(
                    lower=round(i / CONFIDENCE_BINS, 1),
                    upper=round((i + 1) / CONFIDENCE_BINS, 1),
                    not_escalated=total - escalated,
                    escalated=escalated,
                )
            )
        mean_query = select(func.count(confidence), func.avg(confidence)).where(
            self._decisions(window), confidence.is_not(None)
        )
        ((turns, mean),) = await self._rows(mean_query)
        return ConfidenceOut(
            window=window_out(window),
            turns=int(turns),
            mean=None if mean is None else round(float(mean), 4),
            bins=bins,
        )

    # Reviews.

    @staticmethod
    def _reviews(window: Window) -> ColumnElement[bool]:
        return and_(Review.created_at >= window.since, Review.created_at < window.until)

    async def sla(self, window: Window, now: datetime) -> SlaOut:
        """First-response and resolution attainment per SLA class; running clocks are judged at `now`."""
        sla_class = func.coalesce(Review.sla_class, UNKNOWN).label("sla_class")
        clocks = (
            *_clock_counts(Review.first_response_due, Review.first_responded_at, now),
            *_clock_counts(Review.resolution_due, Review.resolved_at, now),
        )
        query = select(sla_class, func.count(), *clocks).where(self._reviews(window)).group_by(sla_class)
        tiers = [_sla_tier(str(row[0]), [int(v) for v in row[1:]]) for row in await self._rows(query)]
        tiers.sort(key=lambda tier: tier.sla_class)
        columns = zip(*([t.reviews, *_tallies(t)] for t in tiers), strict=True) if tiers else ()
        overall = _sla_tier("all", [sum(c) for c in columns] or [0] * 9)
        return SlaOut(window=window_out(window), tiers=tiers, overall=overall)

    async def response_times(self, window: Window) -> ResponseTimesOut:
        """MTTA and MTTR per SLA class and overall."""
        acknowledged_at = func.coalesce(Review.claimed_at, Review.first_responded_at)
        to_ack = self._epoch(acknowledged_at) - self._epoch(Review.created_at)
        to_resolve = self._epoch(Review.resolved_at) - self._epoch(Review.created_at)
        resolved = and_(Review.status == "resolved", Review.resolved_at.is_not(None))
        measures = (
            func.count(),
            func.count(acknowledged_at),
            func.avg(to_ack),
            _count_if(resolved),
            func.avg(case((resolved, to_resolve))),
            func.max(case((resolved, to_resolve))),
        )
        sla_class = func.coalesce(Review.sla_class, UNKNOWN).label("sla_class")
        by_tier = select(sla_class, *measures).where(self._reviews(window)).group_by(sla_class)
        tiers = sorted(
            (_response_times(str(row[0]), row[1:]) for row in await self._rows(by_tier)),
            key=lambda tier: tier.sla_class,
        )
        (overall_row,) = await self._rows(select(*measures).where(self._reviews(window)))
        return ResponseTimesOut(
            window=window_out(window), tiers=tiers, overall=_response_times("all", overall_row)
        )

    # Policy versions.

    async def policy_versions(self, window: Window, now: datetime) -> PolicyVersionsOut:
        """Per version: turns, escalation and automated resolution rates, SLA attainment."""
        version = func.coalesce(AuditRecord.details[("policy", "policy_version")].as_string(), UNKNOWN)
        decisions = (
            select(
                version.label("v"), func.count(), _count_if(self._escalated()), _count_if(self._automated())
            )
            .where(self._decisions(window))
            .group_by("v")
        )
        review_version = func.coalesce(Review.policy_version, UNKNOWN).label("v")
        reviews = (
            select(
                review_version,
                func.count(),
                *_clock_counts(Review.first_response_due, Review.first_responded_at, now),
                *_clock_counts(Review.resolution_due, Review.resolved_at, now),
            )
            .where(self._reviews(window))
            .group_by(review_version)
        )
        turn_counts = {str(v): (int(t), int(e), int(a)) for v, t, e, a in await self._rows(decisions)}
        review_counts = {str(row[0]): [int(x) for x in row[1:]] for row in await self._rows(reviews)}
        deployment_query = select(PolicyDeployment).order_by(PolicyDeployment.id.desc()).limit(1)
        async with self._engine.connect() as connection:
            deployment = (await connection.execute(deployment_query)).first()
        active = str(deployment.active_version) if deployment else None
        canary = (
            str(deployment.canary_version)
            if deployment and deployment.canary_version is not None and deployment.canary_percent > 0
            else None
        )
        names = set(turn_counts) | set(review_counts) | {v for v in (active, canary) if v}
        rows = []
        for name in names:
            turns, escalated, automated = turn_counts.get(name, (0, 0, 0))
            counts = review_counts.get(name, [0] * 9)
            tier = _sla_tier(name, counts)
            role: Literal["active", "canary", "inactive"] = (
                "active" if name == active else "canary" if name == canary else "inactive"
            )
            rows.append(
                PolicyVersionStats(
                    policy_version=name,
                    role=role,
                    canary_percent=deployment.canary_percent if role == "canary" and deployment else None,
                    turns=turns,
                    escalation_rate=_share(escalated, turns),
                    automated_resolution_rate=_share(automated, turns),
                    reviews=tier.reviews,
                    first_response_attainment=tier.first_response.attainment,
                    resolution_attainment=tier.resolution.attainment,
                )
            )
        order = {"active": 0, "canary": 1, "inactive": 2}
        rows.sort(key=lambda r: (order[r.role], _version_key(r.policy_version)))
        return PolicyVersionsOut(
            window=window_out(window), active_version=active, canary_version=canary, versions=rows
        )


def _version_key(version: str) -> tuple[int, int | str]:
    """Newest numbered version first, then named ones."""
    return (0, -int(version)) if version.isdigit() else (1, version)


def _reason_labels(raw: str | None) -> list[str]:
    """`risk:a,b` counts under `risk:a` and `risk:b`; other reasons are one label."""
    if not raw:
        return [UNKNOWN]
    if raw.startswith("risk:"):
        return [f"risk:{signal}" for signal in raw.removeprefix("risk:").split(",") if signal] or [raw]
    return [raw]


def _clock_counts(due: Any, stopped: Any, now: datetime) -> tuple[ColumnElement[int], ...]:
    """met, missed, breached, running counts of one clock (reviews without the clock count in none)."""
    has_clock = due.is_not(None)
    return (
        _count_if(and_(has_clock, stopped.is_not(None), stopped <= due)),
        _count_if(and_(has_clock, stopped.is_not(None), stopped > due)),
        _count_if(and_(has_clock, stopped.is_(None), due < now)),
        _count_if(and_(has_clock, stopped.is_(None), due >= now)),
    )


def _tally(met: int, missed: int, breached: int, running: int) -> ClockTally:
    return ClockTally(
        met=met,
        missed=missed,
        breached=breached,
        running=running,
        attainment=_share(met, met + missed + breached),
    )


def _sla_tier(name: str, counts: Sequence[int]) -> SlaTier:
    """A tier from [reviews, 4 first-response counts, 4 resolution counts]."""
    reviews, *clocks = counts
    return SlaTier(
        sla_class=name,
        reviews=reviews,
        first_response=_tally(*clocks[:4]),
        resolution=_tally(*clocks[4:8]),
    )


def _tallies(tier: SlaTier) -> list[int]:
    fr, res = tier.first_response, tier.resolution
    return [fr.met, fr.missed, fr.breached, fr.running, res.met, res.missed, res.breached, res.running]


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _response_times(name: str, row: Sequence[Any]) -> ResponseTimes:
    reviews, acknowledged, mtta, resolved, mttr, max_ttr = row
    return ResponseTimes(
        sla_class=name,
        reviews=int(reviews),
        acknowledged=int(acknowledged),
        mtta_seconds=_seconds(mtta),
        resolved=int(resolved or 0),
        mttr_seconds=_seconds(mttr),
        max_ttr_seconds=_seconds(max_ttr),
    )


def utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
