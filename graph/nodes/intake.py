"""intake: accept the customer's message and clear what the previous turn left behind."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

from graph.state import State


def intake(state: State) -> dict[str, Any]:
    """Record the message and reset the per-turn fields; a closed conversation reopens."""
    text = state.text.strip()
    if not text:
        raise ValueError("the message is empty")
    reopening = state.status == "closed"
    return {
        "text": text,
        "messages": [HumanMessage(content=text)],
        "turn": state.turn + 1,
        "status": "active",
        "owner": None if reopening else state.owner,
        "topic_vector": None if reopening else state.topic_vector,
        "sent_passages": [] if reopening else state.sent_passages,
        "vector": None,
        "classification": None,
        "intent_vectors": {},
        "customer": None,
        "route": None,
        "policy_inputs": None,
        "policy": None,
        "sla": None,
        "retrieved": [],
        "draft": None,
        "tool_uses": [],
        "proposed_action": None,
        "action_result": None,
        "llm_usage": None,
        "escalation_reason": None,
        "decision": None,
        "response": None,
        "citations": [],
        "path": [],
    }
