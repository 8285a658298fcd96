"""escalate: hand the turn to a human with everything they need, and carry out their decision."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, interrupt

from graph.review import Handoff, TranscriptLine, parse_decision
from graph.state import State
from prompts import escalation as escalation_prompts

Next = Literal["billing", "access", "technical", "refunds", "general", "finalize"]


def _transcript(messages: list[AnyMessage]) -> list[TranscriptLine]:
    return [
        TranscriptLine(role="assistant" if isinstance(m, AIMessage) else "customer", text=str(m.content))
        for m in messages
    ]


def handoff_for(state: State, conversation_id: str) -> Handoff:
    """The interrupt payload for the current turn."""
    return Handoff(
        conversation_id=conversation_id,
        turn=state.turn,
        customer_id=state.customer_id,
        text=state.text,
        transcript=_transcript(state.messages),
        classification=state.classification,
        retrieved=state.retrieved,
        draft=state.draft,
        reason=state.escalation_reason or "unspecified",
    )


def escalate(state: State, config: RunnableConfig) -> Command[Next]:
    """Pause for a reviewer; on resume apply approve, reply, reroute or close.

    `interrupt()` re-runs this node from the top on resume, so nothing before it has side effects.
    """
    conversation_id = str(config.get("configurable", {}).get("thread_id", ""))
    decision = parse_decision(interrupt(handoff_for(state, conversation_id)))
    path = state.path + ["escalate"]
    recorded: dict[str, Any] = {"decision": decision.as_state(), "path": path}
    if decision.action == "reroute":
        assert decision.target is not None  # checked by ReviewerDecision
        route = {
            "target": decision.target,
            "reason": "reviewer_reroute",
            "follow_up": False,
            "needs_human": None,
        }
        return Command(
            goto=decision.target,
            update=recorded | {"route": route, "owner": decision.target, "handlers": [decision.target]},
        )
    if decision.action == "approve":
        if state.draft is None:
            raise ValueError("there is no draft to approve; reply, reroute or close instead")
        sent: dict[str, Any] = {
            "response": state.draft["text"],
            "citations": state.draft["citations"],
            "sent_passages": state.sent_passages + state.draft["passage_ids"],
        }
    elif decision.action == "reply":
        sent = {"response": decision.text, "citations": []}
    else:
        sent = {"response": escalation_prompts.CLOSED, "citations": [], "status": "closed"}
    return Command(goto="finalize", update=recorded | sent)
