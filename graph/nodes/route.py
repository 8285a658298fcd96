"""route: send the turn to a specialist or to a human, keeping follow-ups with their specialist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.specialists.routing import SPECIALIST_FOR, SPECIALISTS, Specialist
from agents.triage.classifier import Classification
from graph.context import Context
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


def human_needed(classification: Classification, follow_up: bool, threshold: float) -> str | None:
    """Why this turn must reach a human whatever the specialist finds, if it must."""
    if classification["risk_signals"]:
        return "risk:" + ",".join(classification["risk_signals"])
    # A follow-up ("still broken") is short and vague by nature; its issue is already known.
    if not follow_up and classification["confidence"] < threshold:
        return "low_confidence"
    return None


def switches(handlers: Sequence[str]) -> int:
    """How often consecutive specialist handlers differ."""
    specialists = [h for h in handlers if h in SPECIALISTS]
    return sum(a != b for a, b in zip(specialists, specialists[1:], strict=False))


def route(state: State, runtime: Runtime[Context]) -> Command[Target]:
    """Pick the target; risk and low confidence still go through a specialist to get a draft."""
    context = runtime.context
    classification = state.classification
    if classification is None:
        raise ValueError("route needs triage's classification")
    target, follow_up = choose_specialist(classification, state.owner, context.new_issue_threshold)
    needs_human = human_needed(classification, follow_up, context.confidence_threshold)
    goto: Target
    recent = state.handlers[-(context.loop_guard_window - 1) :] + [target]
    if switches(recent) > context.loop_guard_max_switches:
        needs_human, goto = "loop_guard", "escalate"
    elif needs_human and target == "general":
        goto = "escalate"  # nothing to draft for small talk, abuse or a request for a person
    else:
        goto = target
    new_topic = not follow_up
    decision = RouteDecision(
        target=goto,
        reason="follow_up" if follow_up else f"category:{classification['category']}",
        follow_up=follow_up,
        needs_human=needs_human,
    )
    return Command(
        goto=goto,
        update={
            "route": decision,
            "owner": target,
            "handlers": [goto],
            "escalation_reason": needs_human if goto == "escalate" else None,
            "topic_vector": state.vector if new_topic else state.topic_vector,
            "sent_passages": [] if new_topic else state.sent_passages,
        },
    )
