"""The service on the SQLite checkpointer: reviews survive a restart and resume exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.toolkit import Toolkit
from app.service import ConflictError, NotFoundError, open_service
from app.settings import Settings
from graph.review import ReviewerDecision

REFUND_TICKET = "I returned the blender two weeks ago and I still don't have my refund"
CLI = str(Path(sys.executable).with_name("support-router"))


async def test_second_message_sees_the_first(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        first = await service.run_turn("My card was declined at the supermarket")
        second = await service.run_turn("it still doesn't work", first.conversation_id)
    assert second.turn == 2 and second.follow_up
    async with open_service(settings, toolkit) as service:
        state = await service.conversation_state(first.conversation_id)
    assert [m.content for m in state.messages][0::2] == [
        "My card was declined at the supermarket",
        "it still doesn't work",
    ]


async def test_escalation_resumes_after_the_service_restarts(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        waiting = await service.run_turn(REFUND_TICKET, customer_id="c-42")
        (review,) = await service.list_reviews()
    assert waiting.status == "waiting_for_human" and waiting.escalated
    assert review.conversation_id == waiting.conversation_id and review.customer_id == "c-42"

    async with open_service(settings, toolkit) as service:  # new connections, nothing in memory
        outcome = await service.resolve_review(review.id, ReviewerDecision(action="approve", reviewer="ana"))
        assert outcome.status == "answered"
        assert outcome.response == review.payload["draft"]["text"]
        assert await service.list_reviews() == []
        (resolved,) = await service.list_reviews("resolved")
    assert resolved.decision == {"action": "approve", "text": None, "target": None, "reviewer": "ana"}


async def test_a_review_is_resolved_once(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        await service.run_turn(REFUND_TICKET)
        (review,) = await service.list_reviews()
        await service.resolve_review(review.id, ReviewerDecision(action="reply", text="Done."))
        with pytest.raises(ConflictError, match="already resolved"):
            await service.resolve_review(review.id, ReviewerDecision(action="close"))
        with pytest.raises(NotFoundError):
            await service.resolve_review("no-such-review", ReviewerDecision(action="close"))


async def test_a_stale_review_id_is_rejected(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        waiting = await service.run_turn(REFUND_TICKET)
        (first,) = await service.list_reviews()
        # A reroute to refunds pauses again: the first pause is now stale.
        await service.resolve_review(first.id, ReviewerDecision(action="reroute", target="refunds"))
        (second,) = await service.list_reviews()
        assert second.id != first.id and second.conversation_id == waiting.conversation_id
        await service.store.finish_resolving(first.id, None)  # pretend the first is pending again
        with pytest.raises(ConflictError, match="no longer matches"):
            await service.resolve_review(first.id, ReviewerDecision(action="close"))


async def test_messages_while_waiting_are_kept_for_the_reviewer(settings: Settings, toolkit: Toolkit) -> None:
    async with open_service(settings, toolkit) as service:
        waiting = await service.run_turn(REFUND_TICKET)
        again = await service.run_turn("hello? any news?", waiting.conversation_id)
        (review,) = await service.list_reviews()
        state = await service.conversation_state(waiting.conversation_id)
    assert again.status == "waiting_for_human"
    assert review.waiting_messages == ["hello? any news?"]
    assert state.turn == 1  # the graph was not re-run over the pending handoff


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
