"""The router service: runs turns through the graph and turns escalations into reviews and back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Interrupt

from agents.toolkit import Toolkit
from app.settings import Settings
from app.store import AppStore, Review, open_store
from graph.builder import RouterGraph, compile_graph
from graph.checkpointer import open_checkpointer
from graph.outcome import TurnOutcome, build_outcome
from graph.review import ReviewerDecision
from graph.state import InputState, State
from knowledge.store import IndexMissingError
from prompts import escalation as escalation_prompts

MAX_MESSAGE_CHARS = 4000


class InputError(ValueError):
    """The caller sent something the router cannot take."""


class NotFoundError(LookupError):
    """No such conversation or review."""


class ConflictError(RuntimeError):
    """The request conflicts with the current state (a stale or repeated decision)."""


def _config(conversation_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": conversation_id}}


@dataclass
class RouterService:
    """One turn at a time through the compiled graph, with reviews in the app store."""

    graph: RouterGraph
    toolkit: Toolkit
    settings: Settings
    store: AppStore

    async def run_turn(
        self, text: str, conversation_id: str | None = None, customer_id: str | None = None
    ) -> TurnOutcome:
        """Route one customer message; a conversation waiting for a person keeps it for them."""
        text = text.strip()
        if not text:
            raise InputError("the message is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InputError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
        conversation_id = conversation_id or uuid.uuid4().hex
        pending = await self.store.pending_for(conversation_id)
        if pending is not None:
            await self.store.add_waiting_message(pending.id, text)
            return await self._waiting_outcome(conversation_id, escalation_prompts.STILL_WAITING)
        context = self.settings.context(self.toolkit, customer_id)
        await self.graph.ainvoke(InputState(text=text), _config(conversation_id), context=context)
        return await self._outcome_after_run(conversation_id, customer_id)

    async def resolve_review(self, review_id: str, decision: ReviewerDecision) -> TurnOutcome:
        """Resume the paused conversation with a reviewer's decision, exactly once."""
        review = await self.store.get_review(review_id)
        if review is None:
            raise NotFoundError(f"no review {review_id}")
        if review.status != "pending":
            raise ConflictError(f"review {review_id} is already {review.status}")
        snapshot = await self.graph.aget_state(_config(review.conversation_id))
        if review_id not in {i.id for i in snapshot.interrupts}:
            raise ConflictError(f"review {review_id} no longer matches the conversation's pause")
        if decision.action == "approve" and not review.payload.get("draft"):
            raise InputError("there is no draft to approve; reply, reroute or close instead")
        if not await self.store.start_resolving(review_id):
            raise ConflictError(f"review {review_id} is being resolved by someone else")
        try:
            context = self.settings.context(self.toolkit, review.customer_id)
            await self.graph.ainvoke(
                Command(resume={review_id: decision.model_dump()}),
                _config(review.conversation_id),
                context=context,
            )
        except BaseException:
            await self.store.finish_resolving(review_id, None)
            raise
        await self.store.finish_resolving(review_id, decision.model_dump())
        return await self._outcome_after_run(review.conversation_id, review.customer_id)

    async def list_reviews(self, status: str = "pending") -> list[Review]:
        """Reviews in one status, oldest first."""
        return await self.store.list_reviews(status)

    async def conversation_state(self, conversation_id: str) -> State:
        """The checkpointed state of a conversation."""
        snapshot = await self.graph.aget_state(_config(conversation_id))
        if not snapshot.values:
            raise NotFoundError(f"no conversation {conversation_id}")
        return State(**snapshot.values)

    async def _outcome_after_run(self, conversation_id: str, customer_id: str | None) -> TurnOutcome:
        snapshot = await self.graph.aget_state(_config(conversation_id))
        if snapshot.interrupts:
            await self._record_review(conversation_id, customer_id, snapshot.interrupts[0])
            return await self._waiting_outcome(conversation_id, escalation_prompts.HANDOFF_NOTICE)
        return TurnOutcome.model_validate(snapshot.values["outcomes"][-1])

    async def _record_review(self, conversation_id: str, customer_id: str | None, pause: Interrupt) -> None:
        payload: dict[str, Any] = dict(pause.value)
        await self.store.add_review(
            Review(
                id=pause.id,
                conversation_id=conversation_id,
                customer_id=customer_id or payload.get("customer_id"),
                turn=int(payload["turn"]),
                reason=str(payload["reason"]),
                payload=payload,
                waiting_messages=[],
            )
        )

    async def _waiting_outcome(self, conversation_id: str, response: str) -> TurnOutcome:
        state = await self.conversation_state(conversation_id)
        paused = replace(state, path=[*state.path, "escalate"])
        return build_outcome(paused, conversation_id, "waiting_for_human", response)


@asynccontextmanager
async def open_service(settings: Settings, toolkit: Toolkit | None = None) -> AsyncIterator[RouterService]:
    """Load the models, open the checkpointer and the store, and serve until the block ends."""
    toolkit = toolkit or Toolkit.load(settings.triage_model, settings.index_dir)
    if toolkit.knowledge.count() == 0:
        raise IndexMissingError(
            f"the knowledge index in {settings.index_dir} is empty; run `support-router kb ingest`"
        )
    async with open_checkpointer(settings.data_dir) as checkpointer, open_store(settings.data_dir) as store:
        yield RouterService(
            graph=compile_graph(checkpointer), toolkit=toolkit, settings=settings, store=store
        )
