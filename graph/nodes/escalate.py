"""escalate: hand the turn to a human with everything they need, and carry out their decision."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from agents.tools.business import ActionResult, ProposedAction
from graph.context import Context
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
        proposed_action=state.proposed_action,
        tool_uses=state.tool_uses,
    )


def action_key(conversation_id: str, turn: int, action: ProposedAction) -> str:
    """The idempotency key of an approved action: one execution per conversation, turn and action."""
    return f"{conversation_id}:{turn}:{action['name']}"


async def escalate(state: State, runtime: Runtime[Context]) -> Command[Next]:
    """Pause for a reviewer; on resume apply approve, reply, reroute or close.

    `interrupt()` re-runs this node from the top on resume, so nothing before it has side effects; an
    approved action after it is keyed, so a re-run returns the first execution's result.
    """
    conversation_id = str(get_config().get("configurable", {}).get("thread_id", ""))
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
        if state.proposed_action is not None:
            result = await _carry_out(runtime.context, state.proposed_action, conversation_id, state.turn)
            sent |= {"action_result": result, "response": _action_reply(state.draft["text"], result)}
    elif decision.action == "reply":
        sent = {"response": decision.text, "citations": []}
    else:
        sent = {"response": escalation_prompts.CLOSED, "citations": [], "status": "closed"}
    return Command(goto="finalize", update=recorded | sent)


async def _carry_out(
    context: Context, action: ProposedAction, conversation_id: str, turn: int
) -> ActionResult:
    if context.business is None:
        raise ValueError("an action was approved but no business data adapter is configured")
    return await context.business.execute(action, action_key(conversation_id, turn, action))


def _action_reply(draft: str, result: ActionResult) -> str:
    if result["status"] == "executed":
        return escalation_prompts.ACTION_DONE.format(draft=draft, reference=result["reference"] or "-")
    return escalation_prompts.ACTION_REJECTED.format(draft=draft, detail=result["detail"])
