"""Customer profiles for reviewers (who the customer is, what the active policy makes of them); erasure
for admins."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth import Admin, ReviewerOrAdmin
from app.deps import ServiceDep
from app.erasure import ErasureReport, erase_customer
from app.errors import ERROR_RESPONSES
from app.policies import actor_of
from app.refusals import NotFoundError
from app.store.models import utcnow
from app.store.portfolio import facts_of
from graph.policy.value import score_value

router = APIRouter(prefix="/v1/customers", tags=["customers"], responses=ERROR_RESPONSES)


class CustomerOut(BaseModel):
    """A customer profile with its value score under the active policy."""

    id: str
    name: str
    tier: str
    annual_contract_value: float
    products: list[str]
    region: str | None
    preferred_channel: str | None
    open_incidents: int
    recent_tickets: int
    satisfaction: float | None
    renewal_date: date | None
    churn_signals: list[str]
    value_score: float = Field(description="0 to 100 under the active policy's weights.")
    value_contributions: dict[str, float] = Field(description="Points each signal contributed.")
    policy_version: str


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, principal: ReviewerOrAdmin, service: ServiceDep) -> CustomerOut:
    """One customer from the app store, with the value breakdown a reviewer sees in the handoff."""
    customer = await service.store.customers.get(customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id}")
    active = (await service.policies.current()).active
    value = score_value(active.document.value, facts_of(customer), utcnow().date())
    profile: dict[str, Any] = {
        column: getattr(customer, column) for column in CustomerOut.model_fields if hasattr(customer, column)
    }
    return CustomerOut(
        **profile,
        value_score=value["score"],
        value_contributions=value["contributions"],
        policy_version=active.version,
    )


@router.post("/{customer_id}/erase", response_model=ErasureReport)
async def erase(customer_id: str, principal: Admin, service: ServiceDep) -> ErasureReport:
    """Erase the customer's personal data everywhere: profile and business records, conversations with
    their checkpoints, index entries naming them; their audit records stay, with the inputs redacted.

    404 for a customer the router never knew; erasing again answers `already_erased`. 409 when a
    worker holds one of the conversations for too long: retry, the erasure picks up where it stopped.
    """
    client = service.toolkit.knowledge.client
    return await erase_customer(service.remover, client, customer_id, actor_of(principal))
