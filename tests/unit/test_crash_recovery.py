"""What a crash leaves behind, finished exactly once: resolutions cut short, and requests whose worker died.

Each test writes the state a worker killed at some point leaves in the store and the checkpoints (the
`crash` suite kills real workers), then checks that recovery, or a retry, finishes it once.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import (
    CLEAR_TICKET,
    call,
    escalate,
    fetch_conversation,
    new_conversation,
    post_text,
    request_hash,
    service_of,
)
from fastapi.testclient import TestClient
from langgraph.types import Command

from agents.toolkit import Toolkit
from app.refusals import ConflictError
from app.service import LOCAL_ADMIN, RouterService, open_service
from app.settings import Settings
from app.store.conversations import RequestTakenOverError
from app.store.idempotency import Claim
from app.store.keys import IssuedKey
from app.store.models import Message
from app.turns import thread_config
from graph.review import ReviewerDecision

REFUND_TICKET = "I returned the blender two weeks ago and I still don't have my refund"
APPROVE = ReviewerDecision(action="approve", reviewer="ana")
DEAD_WORKER = "0" * 32
"""A worker id with no heartbeat: the worker that ran the request died."""


async def paused_conversation(service: RouterService) -> tuple[str, str]:
    """A conversation waiting for a reviewer: (its id, the review id)."""
    conversation_id = (await service.create_conversation(LOCAL_ADMIN, "c-42")).id
    await service.post_message(LOCAL_ADMIN, conversation_id, REFUND_TICKET)
    (review,) = await service.list_reviews()
    return conversation_id, review.id


async def checkpoint_count(service: RouterService, conversation_id: str) -> int:
    return len([c async for c in service.graph.checkpointer.alist(thread_config(conversation_id))])  # type: ignore[union-attr]


def replies(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role in ("assistant", "reviewer")]


async def test_a_resolution_cut_short_before_its_run_is_finished_with_its_decision_at_restart(
    settings: Settings, toolkit: Toolkit
) -> None:
    async with open_service(settings, toolkit) as service:
        conversation_id, review_id = await paused_conversation(service)
        # The resolver stored its decision and died before the resumed run saved anything.
        assert await service.store.reviews.start_resolving(review_id, "ana", APPROVE.model_dump())
    async with open_service(settings, toolkit) as service:
        review = await service.review(review_id)
        view = await service.view(LOCAL_ADMIN, conversation_id)
        events = [e.type for e in await service.store.events.after(conversation_id, 0)]
    assert review.status == "resolved" and review.decision == APPROVE.model_dump()
    assert view.conversation.status == "active"
    assert [(m.role, m.author) for m in replies(view.messages)] == [("assistant", None), ("assistant", "ana")]
    assert events.count("review_resolved") == 1


async def test_a_resolution_whose_run_finished_before_the_crash_is_recorded_without_running_again(
    settings: Settings, toolkit: Toolkit
) -> None:
    async with open_service(settings, toolkit) as service:
        conversation_id, review_id = await paused_conversation(service)
        assert await service.store.reviews.start_resolving(review_id, "ana", APPROVE.model_dump())
        # The resumed run saved its checkpoint; the worker died before the store heard of it.
        context = settings.context(toolkit, "c-42", business=service.store.business)
        resume: Command[Any] = Command(resume={review_id: APPROVE.model_dump()})
        await service.graph.ainvoke(resume, thread_config(conversation_id), context=context)
        checkpoints = await checkpoint_count(service, conversation_id)
    async with open_service(settings, toolkit) as service:
        review = await service.review(review_id)
        view = await service.view(LOCAL_ADMIN, conversation_id)
        assert await checkpoint_count(service, conversation_id) == checkpoints  # nothing ran again
    assert review.status == "resolved"
    assert [m.author for m in replies(view.messages)] == [None, "ana"]


async def test_the_same_decision_sent_again_finishes_a_cut_short_resolution_and_another_is_refused(
    settings: Settings, toolkit: Toolkit
) -> None:
    async with open_service(settings, toolkit) as service:
        conversation_id, review_id = await paused_conversation(service)
        assert await service.store.reviews.start_resolving(review_id, "ana", APPROVE.model_dump())
        close = ReviewerDecision(action="close", reviewer="ana")
        with pytest.raises(ConflictError, match="already resolving"):
            await service.resolve_review(review_id, close)
        outcome = await service.resolve_review(review_id, APPROVE)
        with pytest.raises(ConflictError, match="already resolved"):
            await service.resolve_review(review_id, APPROVE)
        view = await service.view(LOCAL_ADMIN, conversation_id)
    assert outcome.status == "answered"
    assert [m.author for m in replies(view.messages)] == [None, "ana"]


async def test_a_message_sent_while_a_resolution_was_cut_short_waits_for_it_then_runs(
    settings: Settings, toolkit: Toolkit
) -> None:
    async with open_service(settings, toolkit) as service:
        conversation_id, review_id = await paused_conversation(service)
        assert await service.store.reviews.start_resolving(review_id, "ana", APPROVE.model_dump())
        # The next message finishes the abandoned resolution first, then is a turn of its own.
        outcome = await service.post_message(LOCAL_ADMIN, conversation_id, CLEAR_TICKET)
        review = await service.review(review_id)
        view = await service.view(LOCAL_ADMIN, conversation_id)
    assert review.status == "resolved" and outcome.status == "answered" and outcome.turn == 2
    assert [m.state for m in view.messages if m.role == "customer"] == ["handed_off", "answered"]


def claim_as(client: TestClient, widget: IssuedKey, conversation_id: str, key: str, worker: str) -> Claim:
    """What a request with this key, run by `worker`, claimed before it started."""
    store = service_of(client).store
    claim: Claim = call(
        client,
        store.idempotency.begin,
        widget.principal.key_id,
        key,
        request_hash(conversation_id, CLEAR_TICKET),
        worker,
    )
    return claim


def accept(client: TestClient, conversation_id: str, claim: Claim) -> None:
    """What the request did next: store the customer message, tied to its key."""
    message = Message(conversation_id=conversation_id, role="customer", text=CLEAR_TICKET, turn=1)
    store = service_of(client).store
    call(client, lambda: store.conversations.record(conversation_id, [message], accepted_as=claim.held))


def test_a_retry_gets_the_answer_to_the_message_a_dead_workers_request_accepted(
    client: TestClient, widget: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    accept(client, conversation_id, claim_as(client, widget, conversation_id, "k-1", DEAD_WORKER))

    retry = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k-1"})
    again = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k-1"})

    assert retry.status_code == 200 and retry.json()["turn"] == 1, retry.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == retry.json()
    transcript = fetch_conversation(client, widget, conversation_id)["transcript"]
    assert [(m["role"], m["state"]) for m in transcript] == [("customer", "answered"), ("assistant", "sent")]


def test_a_retry_runs_the_request_a_dead_worker_had_not_accepted_yet(
    client: TestClient, widget: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    claim_as(client, widget, conversation_id, "k-2", DEAD_WORKER)

    retry = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k-2"})

    assert retry.status_code == 200 and retry.json()["turn"] == 1, retry.text
    assert len(fetch_conversation(client, widget, conversation_id)["transcript"]) == 2


def test_a_request_a_retry_took_over_can_no_longer_accept_its_message(
    client: TestClient, widget: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    first = claim_as(client, widget, conversation_id, "k-3", DEAD_WORKER)
    takeover = claim_as(client, widget, conversation_id, "k-3", service_of(client).worker)
    assert takeover.outcome == "new" and takeover.record_id == first.record_id
    # The first worker only looked dead (it stalled); when it wakes up, its acceptance is refused.
    with pytest.raises(RequestTakenOverError):
        accept(client, conversation_id, first)
    assert fetch_conversation(client, widget, conversation_id)["transcript"] == []


def test_a_retry_while_the_first_requests_worker_is_alive_is_409(
    client: TestClient, widget: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    claim_as(client, widget, conversation_id, "k-4", service_of(client).worker)
    response = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k-4"})
    assert response.status_code == 409 and response.headers["Retry-After"] == "1"


def test_a_message_held_for_a_reviewer_is_kept_once_with_its_response(
    client: TestClient, widget: IssuedKey
) -> None:
    conversation_id, _ = escalate(client, widget)
    first = post_text(client, widget, conversation_id, "any news?", **{"Idempotency-Key": "held"})
    again = post_text(client, widget, conversation_id, "any news?", **{"Idempotency-Key": "held"})
    assert first.status_code == again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    (review,) = call(client, service_of(client).list_reviews)
    assert review.waiting_messages == ["any news?"]
