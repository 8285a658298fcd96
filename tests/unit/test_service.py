"""The service on the SQLite checkpointer: reviews survive a restart and resume exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from agents.toolkit import Toolkit
from app.refusals import ConflictError, NotFoundError
from app.service import LOCAL_ADMIN, RouterService, open_service
from app.settings import Settings
from app.store.models import Message, Review
from app.turns import thread_config
from graph.review import ReviewerDecision
from graph.state import InputState

REFUND_TICKET = "I returned the blender two weeks ago and I still don't have my refund"
CLI = str(Path(sys.executable).with_name("support-router"))


async def conversation(service: RouterService, customer_id: str | None = None) -> str:
    return (await service.create_conversation(LOCAL_ADMIN, customer_id)).id


async def test_second_message_sees_the_first(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        await service.post_message(LOCAL_ADMIN, cid, "My card was declined at the supermarket")
        second = await service.post_message(LOCAL_ADMIN, cid, "it still doesn't work")
    assert second.turn == 2 and second.follow_up
    async with open_service(settings, toolkit) as service:
        view = await service.view(LOCAL_ADMIN, cid)
    assert [(m.role, m.turn) for m in view.messages] == [
        ("customer", 1),
        ("assistant", 1),
        ("customer", 2),
        ("assistant", 2),
    ]
    assert view.conversation.status == "active" and view.conversation.owner == "technical"


async def test_escalation_resumes_after_the_service_restarts(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service, "c-42")
        waiting = await service.post_message(LOCAL_ADMIN, cid, REFUND_TICKET)
        (review,) = await service.list_reviews()
    assert waiting.status == "waiting_for_human" and waiting.escalated
    assert review.conversation_id == cid and review.customer_id == "c-42"

    async with open_service(settings, toolkit) as service:  # new connections, nothing in memory
        outcome = await service.resolve_review(review.id, ReviewerDecision(action="approve", reviewer="ana"))
        assert outcome.status == "answered"
        assert outcome.response == review.payload["draft"]["text"]
        assert await service.list_reviews() == []
        (resolved,) = await service.list_reviews("resolved")
        view = await service.view(LOCAL_ADMIN, cid)
    assert resolved.decision == {"action": "approve", "text": None, "target": None, "reviewer": "ana"}
    assert view.conversation.status == "active"
    assert [m.role for m in view.messages] == ["customer", "assistant", "assistant"]
    assert view.messages[-1].author == "ana"


async def test_a_review_is_resolved_once(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        await service.post_message(LOCAL_ADMIN, await conversation(service), REFUND_TICKET)
        (review,) = await service.list_reviews()
        await service.resolve_review(
            review.id, ReviewerDecision(action="reply", text="Done.", reviewer="ana")
        )
        with pytest.raises(ConflictError, match="already resolved"):
            await service.resolve_review(review.id, ReviewerDecision(action="close", reviewer="ana"))
        with pytest.raises(NotFoundError):
            await service.resolve_review("no-such-review", ReviewerDecision(action="close"))


async def test_a_claimed_review_belongs_to_its_reviewer(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        await service.post_message(LOCAL_ADMIN, await conversation(service), REFUND_TICKET)
        (review,) = await service.list_reviews()
        await service.claim_review(review.id, "ana")
        with pytest.raises(ConflictError, match="claimed by ana"):
            await service.claim_review(review.id, "bob")
        with pytest.raises(ConflictError, match="claimed by ana"):
            await service.resolve_review(review.id, ReviewerDecision(action="close", reviewer="bob"))
        closed = await service.resolve_review(review.id, ReviewerDecision(action="close", reviewer="ana"))
    assert closed.status == "closed"


async def test_a_stale_review_id_is_rejected(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        await service.post_message(LOCAL_ADMIN, cid, REFUND_TICKET)
        (first,) = await service.list_reviews()
        # After a reroute the conversation has moved on (billing has no article for this, so it
        # pauses again under a new id): the first pause is stale.
        await service.resolve_review(first.id, ReviewerDecision(action="reroute", target="billing"))
        assert first.id not in {r.id for r in await service.list_reviews()}
        async with service.store.engine.begin() as connection:  # pretend the first is pending again
            await connection.execute(update(Review).where(Review.id == first.id).values(status="pending"))
        with pytest.raises(ConflictError, match="no longer matches"):
            await service.resolve_review(first.id, ReviewerDecision(action="close"))


async def test_messages_while_waiting_are_kept_for_the_reviewer(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        await service.post_message(LOCAL_ADMIN, cid, REFUND_TICKET)
        again = await service.post_message(LOCAL_ADMIN, cid, "hello? any news?")
        (review,) = await service.list_reviews()
        snapshot = await service.graph.aget_state(thread_config(cid))
        view = await service.view(LOCAL_ADMIN, cid)
    assert again.status == "waiting_for_human"
    assert review.waiting_messages == ["hello? any news?"]
    assert snapshot.values["turn"] == 1  # the graph was not re-run over the pending handoff
    assert view.messages[-1].state == "held"


async def test_concurrent_messages_are_processed_one_after_another(
    settings: Settings, toolkit: Toolkit
) -> None:
    texts = ["How much is the Premium plan?", "How do I download my invoice?", "What are the ATM fees?"]
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        outcomes = await asyncio.gather(*(service.post_message(LOCAL_ADMIN, cid, t) for t in texts))
        view = await service.view(LOCAL_ADMIN, cid)
    assert sorted(o.turn for o in outcomes) == [1, 2, 3]
    customer = [m for m in view.messages if m.role == "customer"]
    assert sorted(m.text for m in customer) == sorted(texts)
    assert all(m.state == "answered" for m in customer)
    assert len([m for m in view.messages if m.role == "assistant"]) == 3


async def test_accepted_messages_survive_a_crash(settings: Settings, toolkit: Toolkit) -> None:
    """A message stored as received but never processed is answered when the service starts again."""
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        # What a crash right after accepting the message leaves behind.
        accepted = Message(conversation_id=cid, role="customer", text="How do I change my card PIN?", turn=1)
        await service.store.conversations.record(cid, [accepted])
    async with open_service(settings, toolkit) as service:
        view = await service.view(LOCAL_ADMIN, cid)
    assert [(m.role, m.state) for m in view.messages] == [("customer", "answered"), ("assistant", "sent")]
    assert view.conversation.turns == 1


async def test_a_turn_that_ran_before_a_crash_is_not_run_twice(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        cid = await conversation(service)
        accepted = Message(conversation_id=cid, role="customer", text="How do I change my card PIN?", turn=1)
        await service.store.conversations.record(cid, [accepted])
        # The graph finished the turn, then the process died before the store heard of it.
        await service.graph.ainvoke(
            InputState(text="How do I change my card PIN?"),
            thread_config(cid),
            context=settings.context(toolkit),
        )
    async with open_service(settings, toolkit) as service:
        snapshot = await service.graph.aget_state(thread_config(cid))
        view = await service.view(LOCAL_ADMIN, cid)
    assert snapshot.values["turn"] == 1
    assert [(m.role, m.state) for m in view.messages] == [("customer", "answered"), ("assistant", "sent")]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_resume_across_separate_processes(tmp_path: Path, head_dir: Path, index_dir: Path) -> None:
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(tmp_path / "data"),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(head_dir),
        "SUPPORT_ROUTER_INDEX_DIR": str(index_dir),
    }
    routed = run_cli("route", REFUND_TICKET, "--json", env=env)
    assert routed.returncode == 0, routed.stderr
    conversation = json.loads(routed.stdout)["conversation_id"]

    listed = run_cli("review", "list", "--json", env=env)
    (review,) = json.loads(listed.stdout)
    assert review["conversation_id"] == conversation

    resolved = run_cli("review", "resolve", review["id"], "--action", "approve", "--json", env=env)
    assert resolved.returncode == 0, resolved.stderr
    outcome = json.loads(resolved.stdout)
    assert outcome["status"] == "answered" and outcome["review"]["action"] == "approve"
    assert outcome["response"] == review["draft"]
