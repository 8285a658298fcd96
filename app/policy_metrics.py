"""Per policy version: how often it escalates, resolves without a person, and meets its SLAs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pydantic import BaseModel, Field
from sqlalchemy import select

from app.store.models import Review, utcnow
from app.store.store import AppStore


class VersionMetrics(BaseModel):
    """One version's record, so a canary can be compared with the active version."""

    policy_version: str
    turns: int = Field(description="Routing decisions made under this version.")
    escalation_rate: float = Field(description="Share of turns handed to a person.")
    automated_resolution_rate: float = Field(description="Share of turns answered with no person involved.")
    reviews: int = Field(description="Escalations routed by this version.")
    first_response_attainment: float | None = Field(
        description="Share of answered reviews whose first response was on time (None before any)."
    )
    resolution_attainment: float | None = Field(description="Share of resolved reviews resolved on time.")
    open_breaches: int = Field(description="Pending reviews already past their first-response due time.")


@dataclass
class _Tally:
    turns: int = 0
    escalated: int = 0
    automated: int = 0
    reviews: int = 0
    responded: list[bool] = field(default_factory=list)
    resolved: list[bool] = field(default_factory=list)
    open_breaches: int = 0


def _share(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def _attainment(on_time: list[bool]) -> float | None:
    return round(sum(on_time) / len(on_time), 4) if on_time else None


async def version_metrics(store: AppStore) -> list[VersionMetrics]:
    """Metrics for every version that routed at least one turn, newest version first."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for record in await store.audit.records(kind="routing_decision"):
        policy = record.details.get("policy") or {}
        outcome = record.details.get("outcome") or {}
        tally = tallies[str(policy.get("policy_version", "unknown"))]
        tally.turns += 1
        tally.escalated += bool(outcome.get("escalated"))
        tally.automated += outcome.get("status") == "answered" and not outcome.get("escalated")
    now = utcnow()
    async with store.engine.connect() as connection:
        rows = await connection.execute(select(Review).where(Review.policy_version.is_not(None)))
        for review in rows:
            tally = tallies[str(review.policy_version)]
            tally.reviews += 1
            if review.first_responded_at and review.first_response_due:
                tally.responded.append(review.first_responded_at <= review.first_response_due)
            elif review.first_response_due and review.first_response_due < now:
                tally.open_breaches += 1
            if review.resolved_at and review.resolution_due:
                tally.resolved.append(review.resolved_at <= review.resolution_due)
    return [
        VersionMetrics(
            policy_version=version,
            turns=t.turns,
            escalation_rate=_share(t.escalated, t.turns),
            automated_resolution_rate=_share(t.automated, t.turns),
            reviews=t.reviews,
            first_response_attainment=_attainment(t.responded),
            resolution_attainment=_attainment(t.resolved),
            open_breaches=t.open_breaches,
        )
        for version, t in sorted(tallies.items(), key=lambda item: item[0], reverse=True)
    ]
