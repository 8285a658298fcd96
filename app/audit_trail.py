"""What the service writes to the audit log: each routing decision and each human action."""

from __future__ import annotations

from typing import Any

from app.store.audit import AuditEntry
from graph.outcome import TurnOutcome
from graph.review import ReviewerDecision
from graph.state import State

ROUTER_ACTOR = "router"


def routing_entry(conversation_id: str, state: State, outcome: TurnOutcome) -> AuditEntry:
    """The policy's decision on one turn, with the minimised inputs it was made from."""
    return AuditEntry(
        kind="routing_decision",
        actor=ROUTER_ACTOR,
        conversation_id=conversation_id,
        inputs=state.policy_inputs or {},
        details={
            "turn": outcome.turn,
            "policy": state.policy,
            "sla": state.sla,
            "versions": outcome.versions,
            "retrieved_articles": sorted({p["article_id"] for p in state.retrieved}),
            "cited_articles": [c["article_id"] for c in outcome.citations],
            "outcome": {
                "status": outcome.status,
                "specialist": outcome.specialist,
                "path": outcome.path,
                "escalated": outcome.escalated,
                "escalation_reason": outcome.escalation_reason,
            },
        },
    )


def human_entry(
    conversation_id: str,
    actor: str,
    action: str,
    details: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
) -> AuditEntry:
    """A person's action on a conversation: a claim, a decision, a reply."""
    return AuditEntry(
        kind="human_action",
        actor=actor,
        conversation_id=conversation_id,
        inputs=inputs or {},
        details={"action": action, **(details or {})},
    )


def decision_entry(
    conversation_id: str, turn: int, decision: ReviewerDecision, review_id: str | None
) -> AuditEntry:
    """A reviewer's decision on a paused turn; the reply's text is an input, so an erasure can redact it."""
    return human_entry(
        conversation_id,
        decision.reviewer or "reviewer",
        f"resolve:{decision.action}",
        {"turn": turn, "target": decision.target, "review_id": review_id},
        inputs={"text": decision.text} if decision.text is not None else None,
    )
