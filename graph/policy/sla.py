"""SLA clocks: when a decision's first response and resolution are due, and how each clock stands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from typing_extensions import TypedDict

from graph.policy.evaluate import PolicyDecision

ClockState = Literal["met", "missed", "on_track", "at_risk", "breached"]


class SlaDue(TypedDict):
    """When the SLA targets fall due, as ISO datetimes."""

    first_response_due: str
    resolution_due: str


def _aware(value: datetime, name: str) -> datetime:
    # Comparing naive and aware datetimes raises deep inside; say which argument was naive instead.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def due_times(received_at: datetime, decision: PolicyDecision) -> SlaDue:
    """The due times of a ticket received at `received_at` under `decision`."""
    start = _aware(received_at, "received_at")
    return SlaDue(
        first_response_due=(start + timedelta(minutes=decision["first_response_minutes"])).isoformat(),
        resolution_due=(start + timedelta(minutes=decision["resolution_minutes"])).isoformat(),
    )


def clock_state(
    started_at: datetime,
    due: datetime,
    stopped_at: datetime | None,
    now: datetime,
    at_risk_share: float = 0.8,
) -> ClockState:
    """A stopped clock is met or missed; a running one is on track, at risk or breached."""
    if not 0 <= at_risk_share <= 1:
        raise ValueError(f"at_risk_share must be within 0..1, got {at_risk_share}")
    started, due, now = _aware(started_at, "started_at"), _aware(due, "due"), _aware(now, "now")
    if stopped_at is not None:
        return "met" if _aware(stopped_at, "stopped_at") <= due else "missed"
    if now > due:
        return "breached"
    allowed = (due - started).total_seconds()
    if allowed <= 0 or (now - started).total_seconds() >= at_risk_share * allowed:
        return "at_risk"
    return "on_track"
