"""route: decide by the routing policy where the turn goes, keeping follow-ups with their specialist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.specialists.routing import SPECIALIST_FOR, SPECIALISTS, Specialist
from agents.triage.classifier import Classification
from graph.context import Context
from graph.policy.evaluate import PolicyDecision, PolicyInputs, evaluate
from graph.policy.sla import due_times
from graph.policy.value import CustomerFacts
from graph.state import RouteDecision, State

Target = Literal["billing", "access", "technical", "refunds", "general", "escalate"]


def choose_specialist(
    classification: Classification, owner: Specialist | None, new_issue_threshold: float
) -> tuple[Specialist, bool]:
    """The specialist for this turn and whether it is a follow-up that stays with the owner."""
    suggested = SPECIALIST_FOR[classification["category"]]
    if owner is None or suggested == owner:
        return suggested, owner is not None
    clearly_new = (
        classification["category"] != "other" and classification["confidence"] >= new_issue_threshold
    )
    return (suggested, False) if clearly_new else (owner, True)


def policy_inputs(
    classification: Classification,
    specialist: Specialist,
    follow_up: bool,
    channel: str,
    at: datetime,
    customer: CustomerFacts | None,
) -> PolicyInputs:
    """What the routing policy decides from: nothing else about the ticket or the customer."""
    return PolicyInputs(
        category=classification["category"],
        confidence=classification["confidence"],
        risk_signals=tuple(classification["risk_signals"]),
        follow_up=follow_up,
        specialist=specialist,
        channel=channel,
        at=at,
        customer=customer,
    )


def switches(handlers: Sequence[str]) -> int:
    """How often consecutive specialist handlers differ."""
    specialists = [h for h in handlers if h in SPECIALISTS]
    return sum(a != b for a, b in zip(specialists, specialists[1:], strict=False))


def human_reason(decision: PolicyDecision) -> str | None:
    """Why the policy wants a person on this turn, if it does."""
    if decision["path"] == "ai_only":
        return None
    return decision["reason"] or f"policy:{decision['rule']}"


def route(state: State, runtime: Runtime[Context]) -> Command[Target]:
    """Pick the target by policy; a turn that needs approval still gets a specialist's draft first."""
    context = runtime.context
    classification = state.classification
    if classification is None:
        raise ValueError("route needs triage's classification")
    suggested, follow_up = choose_specialist(classification, state.owner, context.new_issue_threshold)
    at = context.received_at or datetime.now(UTC)
    inputs = policy_inputs(classification, suggested, follow_up, context.channel, at, state.customer)
    conversation_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    decision = evaluate(context.policies.for_key(state.customer_id or conversation_id), inputs)
    target: Specialist = decision["specialist"]  # type: ignore[assignment]  # the schema allows only specialists
    needs_human = human_reason(decision)
    goto: Target = "escalate" if decision["path"] == "human_first" else target
    recent = state.handlers[-(context.loop_guard_window - 1) :] + [target]
    if switches(recent) > context.loop_guard_max_switches:
        needs_human, goto = "loop_guard", "escalate"  # a safety net no policy can switch off
    new_topic = not follow_up
    update: dict[str, Any] = {
        "route": RouteDecision(
            target=goto,
            reason="follow_up" if follow_up else f"category:{classification['category']}",
            follow_up=follow_up,
            needs_human=needs_human,
        ),
        "policy_inputs": inputs.to_json(),
        "policy": decision,
        "sla": due_times(at, decision),
        "owner": target,
        "handlers": [goto],
        "escalation_reason": needs_human if goto == "escalate" else None,
        "topic_vector": state.vector if new_topic else state.topic_vector,
        "sent_passages": [] if new_topic else state.sent_passages,
    }
    return Command(goto=goto, update=update)
