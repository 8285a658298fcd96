"""The specialist nodes: answer from their own knowledge domain, or hand over with a draft."""

from __future__ import annotations

from typing import Any, Literal, Protocol

import numpy as np
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.specialists.extractive import Draft, RetrievedPassage, compose_answer, retrieve
from agents.specialists.routing import CATEGORY_OF, DOMAIN_OF, SPECIALIST_FOR, Specialist
from graph.context import Context
from graph.state import State
from prompts import general as general_prompts

Next = Literal["escalate", "finalize"]


class SpecialistNode(Protocol):
    """A specialist node as LangGraph calls it."""

    __name__: str

    def __call__(self, state: State, runtime: Runtime[Context]) -> Command[Next]: ...


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


def make_specialist(name: Specialist) -> SpecialistNode:
    """A node that answers extractively from the `name` domain of the knowledge base."""

    def specialist(state: State, runtime: Runtime[Context]) -> Command[Next]:
        context = runtime.context
        primary = retrieve(
            context.toolkit.knowledge,
            _query_vector(state, name),
            DOMAIN_OF[name],
            context.top_k,
            context.retrieval_max_distance,
            exclude=state.sent_passages,
        )
        secondary = _secondary_passages(state, runtime, name)
        draft = compose_answer(primary, secondary)
        if draft is None and name == "general":
            draft = Draft(text=general_prompts.BOUNDARY, citations=[], passage_ids=[])
        reason = _escalation_reason(state, name, draft)
        update: dict[str, Any] = {
            "retrieved": primary + secondary,
            "draft": draft,
            "escalation_reason": reason,
            "path": state.path + [name],
        }
        if reason is None and draft is not None:
            update |= {
                "response": draft["text"],
                "citations": draft["citations"],
                "sent_passages": state.sent_passages + draft["passage_ids"],
            }
            return Command(goto="finalize", update=update)
        return Command(goto="escalate", update=update)

    specialist.__name__ = name
    return specialist


def _escalation_reason(state: State, name: Specialist, draft: Draft | None) -> str | None:
    route = state.route
    if route and route["needs_human"]:
        return route["needs_human"]
    if draft is None:
        return "no_relevant_article"
    return None
