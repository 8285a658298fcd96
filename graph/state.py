"""Graph state: the narrow input a caller sends and the full conversation state that is checkpointed."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from agents.llm.usage import TurnUsage
from agents.specialists.agent import ToolUse
from agents.specialists.extractive import Citation, Draft, RetrievedPassage
from agents.specialists.routing import Specialist
from agents.tools.business import ActionResult, ProposedAction
from agents.triage.classifier import Classification
from graph.policy.evaluate import PolicyDecision
from graph.policy.sla import SlaDue
from graph.policy.value import CustomerFacts

ConversationStatus = Literal["active", "closed"]
ReviewAction = Literal["approve", "reply", "reroute", "close"]


class RouteDecision(TypedDict):
    """Where `route` sent the turn and why."""

    target: Specialist | Literal["escalate"]
    reason: str
    follow_up: bool
    needs_human: str | None
    """Why a person must see this turn whatever the specialist finds (the policy's reason), if they must."""


class ReviewDecision(TypedDict):
    """A human reviewer's decision on an escalated turn (the value `interrupt()` returns)."""

    action: ReviewAction
    text: str | None
    target: Specialist | None
    reviewer: str | None


@dataclass(kw_only=True)
class InputState:
    """What a caller sends for one turn."""

    text: str
    """The customer's message."""


@dataclass(kw_only=True)
class State(InputState):
    """The whole conversation; fields below `outcomes` are reset at the start of every turn."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The transcript: customer messages and the replies that were sent."""
    turn: int = 0
    """How many customer messages this conversation has had."""
    customer_id: str | None = None
    """The customer the conversation belongs to."""
    status: ConversationStatus = "active"
    """`closed` after a reviewer closes it; a new message reopens it as a new issue."""
    owner: Specialist | None = None
    """The specialist that holds the current issue; follow-ups stay with it."""
    handlers: Annotated[list[str], operator.add] = field(default_factory=list)
    """Who handled each turn (a specialist or `escalate`), for the loop guard."""
    topic_vector: list[float] | None = None
    """The vector of the message that opened the current issue; follow-ups search with it."""
    sent_passages: list[str] = field(default_factory=list)
    """Passages already quoted on the current issue, so a follow-up gets something new."""
    outcomes: Annotated[list[dict[str, Any]], operator.add] = field(default_factory=list)
    """The outcome of every finished turn."""
    llm_tokens: int = 0
    """Tokens the conversation has spent on model calls, for its budget."""

    vector: list[float] | None = None
    """This turn's message vector: computed once, used by triage and retrieval."""
    customer: CustomerFacts | None = None
    """The routing facts of the customer, loaded this turn (only what the policy decides on)."""
    classification: Classification | None = None
    """What triage concluded."""
    intent_vectors: dict[str, list[float]] = field(default_factory=dict)
    """For a multi-issue message, the vector of the clause carrying each issue (by category)."""
    route: RouteDecision | None = None
    """Where the turn was sent."""
    policy_inputs: dict[str, Any] | None = None
    """Everything the routing policy decided from, as recorded in the audit log for replay."""
    policy: PolicyDecision | None = None
    """The policy's decision: version, rule, path, priority, SLA, value score and explanation."""
    sla: SlaDue | None = None
    """When a first response and a resolution are due for this turn."""
    retrieved: list[RetrievedPassage] = field(default_factory=list)
    """Passages the specialist found relevant."""
    draft: Draft | None = None
    """The specialist's answer, sent as is or shown to a reviewer."""
    tool_uses: list[ToolUse] = field(default_factory=list)
    """The tools an LLM specialist called this turn."""
    proposed_action: ProposedAction | None = None
    """A sensitive action the specialist proposed; it runs only after a reviewer approves it."""
    action_result: ActionResult | None = None
    """What came of the approved action."""
    llm_usage: TurnUsage | None = None
    """This turn's model calls, tokens, cost and fallbacks (None when no model was involved)."""
    escalation_reason: str | None = None
    """Why a human was needed, when one was."""
    decision: ReviewDecision | None = None
    """The reviewer's decision, when the turn was escalated."""
    response: str | None = None
    """The reply sent to the customer this turn."""
    citations: list[Citation] = field(default_factory=list)
    """Articles the sent reply quotes."""
    path: list[str] = field(default_factory=list)
    """Nodes this turn went through after `route`."""

    def earlier_messages(self) -> list[str]:
        """The transcript before this turn's message (intake has already appended it), oldest first."""
        return [str(m.content) for m in self.messages[:-1]]
