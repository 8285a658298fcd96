"""The specialist nodes: answer from their own knowledge domain, or hand over with a draft."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

import numpy as np
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.llm.guard import LLMUnavailable
from agents.llm.runtime import LLMRuntime
from agents.llm.usage import UsageMeter
from agents.specialists.agent import AgentAnswer, run_specialist
from agents.specialists.extractive import Draft, RetrievedPassage, compose_answer, retrieve
from agents.specialists.routing import CATEGORY_OF, DOMAIN_OF, SPECIALIST_FOR, Specialist
from graph.context import Context
from graph.state import State
from prompts import general as general_prompts

Next = Literal["escalate", "finalize"]
ACTION_SIGNALS = frozenset(
    {"refund_request", "chargeback", "duplicate_charge", "unrecognised_charge", "fraud_or_takeover"}
)
"""Risk signals of a ticket that asks for something done (money back, an account secured), not explained."""


class SpecialistNode(Protocol):
    """A specialist node as LangGraph calls it."""

    __name__: str

    def __call__(self, state: State, runtime: Runtime[Context]) -> Awaitable[Command[Next]]: ...


def _query_vector(state: State, name: Specialist) -> np.ndarray:
    """This specialist's part of the message; a follow-up together with the message that opened it."""
    own = state.intent_vectors.get(CATEGORY_OF[name])
    current = np.asarray(own if own is not None else state.vector, dtype=np.float32)
    route = state.route
    if not (route and route["follow_up"]) or state.topic_vector is None:
        return current
    blended = current + np.asarray(state.topic_vector, dtype=np.float32)
    return blended / max(float(np.linalg.norm(blended)), 1e-12)


def _secondary_passages(state: State, runtime: Runtime[Context], name: Specialist) -> list[RetrievedPassage]:
    """The best passage for each other issue the message raised, from that issue's domain."""
    context = runtime.context
    classification = state.classification
    if classification is None or state.vector is None:
        return []
    found: list[RetrievedPassage] = []
    for intent in classification["secondary_intents"]:
        other = SPECIALIST_FOR[intent]
        if other in (name, "general"):
            continue
        vector = np.asarray(state.intent_vectors.get(intent, state.vector), dtype=np.float32)
        found += retrieve(
            context.toolkit.knowledge, vector, DOMAIN_OF[other], 1, context.retrieval_max_distance
        )
    return found


def _retrieve_all(
    state: State, runtime: Runtime[Context], name: Specialist
) -> tuple[list[RetrievedPassage], list[RetrievedPassage]]:
    """This specialist's passages, and the best passage for each other issue the message raised."""
    context = runtime.context
    primary = retrieve(
        context.toolkit.knowledge,
        _query_vector(state, name),
        DOMAIN_OF[name],
        context.top_k,
        context.retrieval_max_distance,
        exclude=state.sent_passages,
    )
    return primary, _secondary_passages(state, runtime, name)


def make_specialist(name: Specialist) -> SpecialistNode:
    """A node that answers from the `name` domain: extractively offline, as a tool-using agent in LLM mode."""

    async def specialist(state: State, runtime: Runtime[Context]) -> Command[Next]:
        # Embedding lookups and Chroma are CPU-bound: off the event loop, as LangGraph runs synchronous nodes.
        primary, secondary = await asyncio.to_thread(_retrieve_all, state, runtime, name)
        offline = _offline_draft(name, primary, secondary)
        llm = runtime.context.llm
        if llm is None:
            return _finish(state, name, primary + secondary, offline, None)
        return await _agent_turn(llm, state, runtime, name, primary + secondary, offline)

    specialist.__name__ = name
    return specialist


def _offline_draft(
    name: Specialist, primary: list[RetrievedPassage], secondary: list[RetrievedPassage]
) -> Draft | None:
    draft = compose_answer(primary, secondary)
    if draft is None and name == "general":
        draft = Draft(text=general_prompts.BOUNDARY, citations=[], passage_ids=[])
    return draft


async def _agent_turn(
    llm: LLMRuntime,
    state: State,
    runtime: Runtime[Context],
    name: Specialist,
    passages: list[RetrievedPassage],
    offline: Draft | None,
) -> Command[Next]:
    """The LLM specialist's answer; when the model cannot be asked, the offline answer or a person."""
    context = runtime.context
    meter = UsageMeter(conversation_tokens=state.llm_tokens)
    extra: dict[str, Any] = {}
    try:
        answer = await run_specialist(
            llm,
            meter,
            name,
            state.customer_id,
            context.business,
            state.text,
            state.earlier_messages(),
            passages,
            turn_key=_turn_key(state),
        )
    except LLMUnavailable as error:
        meter.fallbacks.append(error.reason)
        # Only the model proposes actions: a ticket needing one goes to a person, others get offline answers.
        unavailable = f"llm_unavailable:{error.reason}" if _needs_action(state, name) else None
        draft = offline
    else:
        draft = answer.draft
        extra = {"tool_uses": answer.tool_uses, "proposed_action": answer.proposed_action}
        unavailable = _agent_reason(answer)
    extra |= {"llm_usage": meter.add_to(state.llm_usage), "llm_tokens": state.llm_tokens + meter.tokens}
    return _finish(state, name, passages, draft, unavailable, extra)


def _turn_key(state: State) -> str:
    """The conversation and turn, which a tool's effect is keyed by (escalate keys approved actions alike)."""
    conversation_id = get_config().get("configurable", {}).get("thread_id", "")
    return f"{conversation_id}:{state.turn}"


def _needs_action(state: State, name: Specialist) -> bool:
    signals = set(state.classification["risk_signals"]) if state.classification else set()
    return name == "refunds" or bool(signals & ACTION_SIGNALS)


def _agent_reason(answer: AgentAnswer) -> str | None:
    """Why the agent's draft needs a person: a proposed action, or an answer that failed its check."""
    if answer.proposed_action is not None:
        return "action_needs_approval"
    if answer.problems:
        return "answer_check:" + ",".join(answer.problems)
    return None


def _finish(
    state: State,
    name: Specialist,
    passages: list[RetrievedPassage],
    draft: Draft | None,
    agent_reason: str | None,
    extra: dict[str, Any] | None = None,
) -> Command[Next]:
    reason = _escalation_reason(state, draft, agent_reason)
    update: dict[str, Any] = {
        "retrieved": passages,
        "draft": draft,
        "escalation_reason": reason,
        "path": state.path + [name],
        **(extra or {}),
    }
    if reason is None and draft is not None:
        update |= {
            "response": draft["text"],
            "citations": draft["citations"],
            "sent_passages": state.sent_passages + draft["passage_ids"],
        }
        return Command(goto="finalize", update=update)
    return Command(goto="escalate", update=update)


def _escalation_reason(state: State, draft: Draft | None, agent_reason: str | None) -> str | None:
    route = state.route
    if route and route["needs_human"]:
        return route["needs_human"]
    if agent_reason is not None:
        return agent_reason
    if draft is None:
        return "no_relevant_article"
    return None
