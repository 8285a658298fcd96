"""How anonymised rows look: the structure and the decisions kept, every text and personal detail gone.

Each function keeps a whitelist of what it knows to be free of personal data (ids, turns, statuses,
categories, confidences, routing decisions, SLA times) and empties or drops everything else, so a
field added later is removed until someone decides it may stay.
"""

from __future__ import annotations

from typing import Any

OUTCOME_KEPT = (
    "conversation_id",
    "turn",
    "status",
    "category",
    "confidence",
    "probabilities",
    "secondary_intents",
    "risk_signals",
    "specialist",
    "path",
    "follow_up",
    "escalated",
    "escalation_reason",
    "citations",
    "sla",
    "decided_by",
    "llm",
    "versions",
)
"""TurnOutcome fields that hold no personal data (citations name help-centre articles only)."""
POLICY_KEPT = (
    "policy_version",
    "rule",
    "path",
    "priority",
    "sla_class",
    "segment",
    "specialist",
    "value_score",
    "first_response_minutes",
    "resolution_minutes",
)
"""PolicyDecision fields kept; the explanation and the value breakdown describe the customer."""
CLASSIFICATION_KEPT = (
    "category",
    "confidence",
    "probabilities",
    "secondary_intents",
    "risk_signals",
    "model_version",
    "decided_by",
)
"""Classification fields kept; an LLM adjudication quotes the message."""
HANDOFF_KEPT = ("conversation_id", "turn", "reason")
EVENT_KEPT = ("role", "held", "review_id", "reason", "status", "owner", "reviewer", "action")
"""Event data fields kept: who, which review, which status; never what was said."""


def _pick(value: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value[key] for key in keys if key in value}


def anonymous_policy(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """The routing decision without the parts that describe the customer."""
    if policy is None:
        return None
    return {**_pick(policy, POLICY_KEPT), "reason": None, "value_contributions": {}, "explanation": ""}


def anonymous_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """A TurnOutcome (as JSON) that still validates, with no reply, tool call or action left in it."""
    review = outcome.get("review")
    return {
        **_pick(outcome, OUTCOME_KEPT),
        "response": "",
        "review": {"action": review["action"], "reviewer": review.get("reviewer")} if review else None,
        "policy": anonymous_policy(outcome.get("policy")),
        "tool_uses": [],
        "proposed_action": None,
        "action_result": None,
    }


def anonymous_classification(classification: dict[str, Any] | None) -> dict[str, Any] | None:
    """Triage's conclusion without an LLM's quoted reasoning."""
    return None if classification is None else _pick(classification, CLASSIFICATION_KEPT)


def anonymous_handoff(payload: dict[str, Any]) -> dict[str, Any]:
    """A review's handoff with the same keys, its message, transcript, passages, draft and tools emptied."""
    return {
        **_pick(payload, HANDOFF_KEPT),
        "customer_id": None,
        "text": "",
        "transcript": [],
        "classification": anonymous_classification(payload.get("classification")),
        "retrieved": [],
        "draft": None,
        "proposed_action": None,
        "tool_uses": [],
    }


def anonymous_decision(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    """A reviewer's decision: what they did and who they are, not what they wrote."""
    if decision is None:
        return None
    return {
        "action": decision.get("action"),
        "text": None,
        "target": decision.get("target"),
        "reviewer": decision.get("reviewer"),
    }


def anonymous_event(data: dict[str, Any]) -> dict[str, Any]:
    """A stored event's data: who, which review and status, an emptied text and an anonymous outcome."""
    kept = _pick(data, EVENT_KEPT)
    if "text" in data:
        kept["text"] = ""
    if isinstance(data.get("outcome"), dict):
        kept["outcome"] = anonymous_outcome(data["outcome"])
    return kept
