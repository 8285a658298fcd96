"""The supervisor dashboard's JSON: SLA attainment, response times, escalations, deflection, volume,
policy versions and triage confidence over a time window (reviewers and admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth import ReviewerOrAdmin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.refusals import InputError
from app.store.dashboard import (
    ConfidenceOut,
    DashboardStore,
    DeflectionOut,
    EscalationsOut,
    PolicyVersionsOut,
    ResponseTimesOut,
    SlaOut,
    VolumeOut,
    Window,
    utc,
)
from app.store.models import utcnow

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], responses=ERROR_RESPONSES)

DEFAULT_WINDOW = timedelta(days=7)
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _clamped_utc(value: datetime) -> datetime:
    """UTC; a time whose UTC falls outside the calendar (year 1 at +14:00) is pinned to its edge."""
    try:
        return utc(value)
    except OverflowError:
        return EARLIEST if value.year == 1 else LATEST


def time_window(
    since: Annotated[
        datetime | None,
        Query(description="Start of the window (ISO 8601; no offset means UTC). Default: `until` − 7 days."),
    ] = None,
    until: Annotated[
        datetime | None, Query(description="End of the window, exclusive. Default: now.")
    ] = None,
) -> Window:
    """The window of a dashboard request; `since` must come before `until` (422 otherwise)."""
    end = _clamped_utc(until) if until is not None else utcnow()
    if since is not None:
        start = _clamped_utc(since)
    else:
        start = end - DEFAULT_WINDOW if end - EARLIEST > DEFAULT_WINDOW else EARLIEST
    if start >= end:
        raise InputError("`since` must be before `until`")
    return Window(start, end)


def dashboard_store(service: ServiceDep) -> DashboardStore:
    """The dashboard's queries over the service's store (a thin wrapper of its engine)."""
    return DashboardStore(service.store.engine)


TimeWindow = Annotated[Window, Depends(time_window)]
Dashboard = Annotated[DashboardStore, Depends(dashboard_store)]


@router.get("/sla", response_model=SlaOut)
async def sla_attainment(principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard) -> SlaOut:
    """First-response and resolution SLA attainment per service tier (SLA class) of the reviews
    created in the window; clocks still running are judged now."""
    return await dashboard.sla(window, utcnow())


@router.get("/response-times", response_model=ResponseTimesOut)
async def response_times(
    principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard
) -> ResponseTimesOut:
    """MTTA (handoff to first human acknowledgement) and MTTR (handoff to the reviewer's decision)."""
    return await dashboard.response_times(window)


@router.get("/escalations", response_model=EscalationsOut)
async def escalations(principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard) -> EscalationsOut:
    """Share of routed turns handed to a person, overall and by reason."""
    return await dashboard.escalations(window)


@router.get("/deflection", response_model=DeflectionOut)
async def deflection(principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard) -> DeflectionOut:
    """Automated resolution (deflection) rate overall and as a time series."""
    return await dashboard.deflection(window)


@router.get("/volume", response_model=VolumeOut)
async def volume(principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard) -> VolumeOut:
    """Routed turns per triage category."""
    return await dashboard.volume(window)


@router.get("/policy-versions", response_model=PolicyVersionsOut)
async def policy_versions(
    principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard
) -> PolicyVersionsOut:
    """The active and canary policy versions side by side: rates and SLA attainment in the window."""
    return await dashboard.policy_versions(window, utcnow())


@router.get("/confidence", response_model=ConfidenceOut)
async def confidence(principal: ReviewerOrAdmin, window: TimeWindow, dashboard: Dashboard) -> ConfidenceOut:
    """The distribution of triage confidence, split by automated and escalated turns."""
    return await dashboard.confidence(window)
