"""The review queue for human reviewers: list, claim, resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agents.specialists.routing import Specialist
from app.auth import ReviewerOrAdmin
from app.deps import ServiceDep
from app.errors import ERROR_RESPONSES
from app.storable import NO_NUL_NOT_BLANK
from app.store.models import Review, utcnow
from graph.outcome import TurnOutcome
from graph.policy.sla import ClockState, clock_state
from graph.review import ReviewerDecision

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], responses=ERROR_RESPONSES)


class SlaClockOut(BaseModel):
    """One SLA clock of a review."""

    due: datetime
    stopped_at: datetime | None = Field(description="When a person responded or resolved it, if they have.")
    state: ClockState = Field(description="met, missed, on_track, at_risk or breached")


class ReviewOut(BaseModel):
    """An escalated turn with everything the reviewer needs."""

    id: str = Field(description="The id of the conversation's pause; a decision must name it.")
    conversation_id: str
    customer_id: str | None
    turn: int
    reason: str
    status: str = Field(description="pending, resolving or resolved")
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime
    waiting_messages: list[str] = Field(description="What the customer wrote since the handoff.")
    handoff: dict[str, Any] = Field(
        description="Ticket, transcript, classification, retrieved articles, draft, reason."
    )
    priority: str | None = Field(description="urgent, high, normal or low, as the policy decided.")
    sla_class: str | None = Field(description="The service level the policy chose (e.g. vip).")
    value_score: float | None = Field(description="The customer's value score, 0 to 100.")
    policy_version: str | None = Field(description="The policy version that routed the turn.")
    first_response: SlaClockOut | None = Field(description="The first-response clock.")
    resolution: SlaClockOut | None = Field(description="The resolution clock.")
    breached: bool = Field(description="Whether any running clock is past due or stopped late.")


class ApproveIn(BaseModel):
    """Send the specialist's draft as it is."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["approve"]


class ReplyIn(BaseModel):
    """Send the reviewer's own reply."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["reply"]
    text: str = Field(min_length=1, max_length=4000, pattern=NO_NUL_NOT_BLANK, description="The reply.")


class RerouteIn(BaseModel):
    """Hand the turn to another specialist."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["reroute"]
    target: Specialist = Field(description="The specialist to answer instead.")


class CloseIn(BaseModel):
    """Close the conversation."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["close"]


ResolveIn = Annotated[ApproveIn | ReplyIn | RerouteIn | CloseIn, Field(discriminator="action")]


def sla_clock(review: Review, due: datetime | None, stopped_at: datetime | None) -> SlaClockOut | None:
    """A clock's state now; reviews from before SLAs were stamped have none."""
    if due is None:
        return None
    state = clock_state(review.created_at, due, stopped_at, utcnow())
    return SlaClockOut(due=due, stopped_at=stopped_at, state=state)


def review_out(review: Review) -> ReviewOut:
    """The API view of a stored review."""
    first_response = sla_clock(review, review.first_response_due, review.first_responded_at)
    resolution = sla_clock(review, review.resolution_due, review.resolved_at)
    clocks = [c for c in (first_response, resolution) if c is not None]
    return ReviewOut(
        id=review.id,
        conversation_id=review.conversation_id,
        customer_id=review.customer_id,
        turn=review.turn,
        reason=review.reason,
        status=review.status,
        claimed_by=review.claimed_by,
        claimed_at=review.claimed_at,
        created_at=review.created_at,
        waiting_messages=review.waiting_messages,
        handoff=review.payload,
        priority=review.priority,
        sla_class=review.sla_class,
        value_score=review.value_score,
        policy_version=review.policy_version,
        first_response=first_response,
        resolution=resolution,
        breached=any(c.state in ("breached", "missed") for c in clocks),
    )


@router.get("", response_model=list[ReviewOut])
async def list_reviews(principal: ReviewerOrAdmin, service: ServiceDep) -> list[ReviewOut]:
    """Pending escalations: soonest first-response due first, then the most valuable customer."""
    return [review_out(r) for r in await service.list_reviews("pending")]


@router.get("/{review_id}", response_model=ReviewOut)
async def get_review(review_id: str, principal: ReviewerOrAdmin, service: ServiceDep) -> ReviewOut:
    """One review, whatever its status."""
    return review_out(await service.review(review_id))


@router.post("/{review_id}/claim", response_model=ReviewOut)
async def claim_review(review_id: str, principal: ReviewerOrAdmin, service: ServiceDep) -> ReviewOut:
    """Take a review; one claimed by another reviewer is a 409."""
    return review_out(await service.claim_review(review_id, principal.key_id))


@router.post("/{review_id}/resolve", response_model=TurnOutcome)
async def resolve_review(
    review_id: str, body: ResolveIn, principal: ReviewerOrAdmin, service: ServiceDep
) -> TurnOutcome:
    """Resume the conversation with `approve`, `reply`, `reroute` or `close`; exactly once."""
    decision = ReviewerDecision.model_validate(body.model_dump() | {"reviewer": principal.key_id})
    return await service.resolve_review(review_id, decision)
