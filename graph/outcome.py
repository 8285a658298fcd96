"""The structured outcome of one turn, as callers, reviewers and the audit see it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agents.llm.usage import TurnUsage
from agents.specialists.agent import ToolUse
from agents.specialists.extractive import Citation
from agents.tools.business import ActionResult, ProposedAction
from agents.triage.dataset import Category
from graph.policy.evaluate import PolicyDecision
from graph.policy.sla import SlaDue
from graph.state import ReviewAction, State
from knowledge.embedding import MODEL_ID as EMBEDDING_MODEL_ID
from prompts import agents, escalation, fences, general, specialists, triage

TurnStatus = Literal["answered", "waiting_for_human", "closed"]
PROMPT_VERSIONS = {
    "specialists": specialists.VERSION,
    "general": general.VERSION,
    "escalation": escalation.VERSION,
    "agents": agents.VERSION,
    "triage": triage.VERSION,
    "fences": fences.VERSION,
}


class ReviewSummary(BaseModel):
    """The human decision that finished an escalated turn."""

    action: ReviewAction
    reviewer: str | None


class TurnOutcome(BaseModel):
    """Everything decided in one turn."""

    conversation_id: str
    turn: int = Field(description="1 for the first customer message of the conversation.")
    status: TurnStatus
    category: Category = Field(description="Triage's category for this message.")
    confidence: float = Field(description="Triage's probability of that category.")
    probabilities: dict[str, float]
    secondary_intents: list[Category]
    risk_signals: list[str]
    specialist: str | None = Field(description="The specialist that handled the turn, if any.")
    path: list[str] = Field(description="Nodes after routing, in order.")
    follow_up: bool = Field(description="Whether the turn stayed with the current specialist.")
    response: str = Field(description="What the customer was sent.")
    escalated: bool
    escalation_reason: str | None
    review: ReviewSummary | None
    citations: list[Citation]
    policy: PolicyDecision | None = Field(
        default=None, description="The routing policy's decision, with the rule that fired and why."
    )
    sla: SlaDue | None = Field(default=None, description="When a first response and a resolution are due.")
    decided_by: str = Field(
        default="local_classifier", description="Who classified the message: the local classifier or the LLM."
    )
    llm: TurnUsage | None = Field(
        default=None, description="Model calls, tokens, estimated cost and fallbacks of the turn (LLM mode)."
    )
    tool_uses: list[ToolUse] = Field(default_factory=list, description="Tools the specialist called.")
    proposed_action: ProposedAction | None = Field(
        default=None, description="A sensitive action proposed for a person's approval."
    )
    action_result: ActionResult | None = Field(default=None, description="What came of an approved action.")
    versions: dict[str, str] = Field(description="Triage model, embedding model, policy and prompts used.")


def build_outcome(state: State, conversation_id: str, status: TurnStatus, response: str) -> TurnOutcome:
    """The outcome of the turn in `state` (finished, or stopped at the handoff)."""
    classification = state.classification
    if classification is None:
        raise ValueError("a turn has no outcome before triage")
    route = state.route
    decision = state.decision
    return TurnOutcome(
        conversation_id=conversation_id,
        turn=state.turn,
        status=status,
        category=classification["category"],
        confidence=classification["confidence"],
        probabilities=classification["probabilities"],
        secondary_intents=classification["secondary_intents"],
        risk_signals=list(classification["risk_signals"]),
        specialist=state.owner,
        path=state.path,
        follow_up=bool(route and route["follow_up"]),
        response=response,
        escalated=state.escalation_reason is not None,
        escalation_reason=state.escalation_reason,
        review=(
            ReviewSummary(action=decision["action"], reviewer=decision["reviewer"]) if decision else None
        ),
        citations=state.citations,
        policy=state.policy,
        sla=state.sla,
        decided_by=classification["decided_by"],
        llm=state.llm_usage,
        tool_uses=state.tool_uses,
        proposed_action=state.proposed_action,
        action_result=state.action_result,
        versions={
            "triage_model": classification["model_version"],
            **({"policy": state.policy["policy_version"]} if state.policy else {}),
            "embedding_model": EMBEDDING_MODEL_ID,
            **{f"prompt_{name}": version for name, version in PROMPT_VERSIONS.items()},
        },
    )
