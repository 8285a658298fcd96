"""Two workers on one PostgreSQL database; one is killed mid-turn or mid-escalation, the other carries on.

Each test stops worker A at a chosen point by holding a lock A's next statement needs, kills it there,
lets go, and checks that worker B finishes what A left without any restart and without a retry
(its recovery pass), that a retry with the same Idempotency-Key gets that answer, and, once A is
back, that every accepted message was answered once and the checkpoints form one chain.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crash_helpers import (
    Pair,
    blocked_by,
    checkpoints,
    cut_off,
    eventually,
    forks,
    holding,
    message_states,
    post,
    query,
    retried,
    running_pair,
)

from app.settings import Settings

QUESTION = "How do I reset my password?"
REFUND_TICKET = "I want a refund for my broken headphones"


@pytest.fixture(scope="module")
def pair(postgres: Callable[[], str], base_settings: Settings, module_dir: Path) -> Iterator[Pair]:
    with running_pair(base_settings.model_copy(update={"database_url": postgres()}), module_dir) as pair:
        yield pair


@pytest.fixture
def killed_a(pair: Pair) -> Iterator[Pair]:
    """The pair for a test that kills A; A is started again (and checked ready) after the test."""
    yield pair
    pair.restart_a_if_dead()


def replies(database_url: str, conversation_id: str) -> list[tuple[str, str, int]]:
    return [m for m in message_states(database_url, conversation_id) if m[0] in ("assistant", "reviewer")]


async def test_killed_mid_turn_before_its_checkpoint_the_other_worker_answers_once(
    killed_a: Pair,
) -> None:
    pair = killed_a
    conversation_id = await pair.conversation(pair.a)
    key = uuid.uuid4().hex
    # The turn reads the customer's facts (enrich) after the message is stored: hold the table there.
    with holding(pair.database_url, "LOCK TABLE customers IN ACCESS EXCLUSIVE MODE") as lock:
        async with pair.widget(pair.a) as client:
            request = asyncio.create_task(post(client, conversation_id, QUESTION, key))
            await eventually(
                lambda: asyncio.to_thread(blocked_by, pair.database_url, lock, "customers"),
                "worker A to wait for the customers table in the middle of the turn",
            )
            assert message_states(pair.database_url, conversation_id) == [("customer", "received", 1)]
            pair.a.kill()
            await cut_off(request)
    assert checkpoints(pair.database_url, conversation_id) == []  # the turn saved nothing

    # B finishes the accepted message on its own (A's lease lapses, B's recovery pass takes it) ...
    await eventually(lambda: pair.answered(conversation_id, 1), "worker B to answer the accepted message")
    async with pair.widget(pair.b) as client:
        retry = await post(client, conversation_id, QUESTION, key)
    # ... and the client's retry with the same key gets that answer, not a second turn.
    assert retry.status_code == 200 and retry.headers.get("Idempotent-Replayed") == "true", retry.text
    assert retry.json()["turn"] == 1

    await pair.a.restart()
    assert message_states(pair.database_url, conversation_id) == [
        ("customer", "answered", 1),
        ("assistant", "sent", 1),
    ]
    assert len(checkpoints(pair.database_url, conversation_id)) >= 1
    assert forks(pair.database_url, conversation_id) == []


async def test_killed_after_the_turns_checkpoint_the_turn_is_recorded_without_running_again(
    killed_a: Pair,
) -> None:
    pair = killed_a
    conversation_id = await pair.conversation(pair.a)
    key = uuid.uuid4().hex
    # The graph has run and saved its checkpoint; the store's record of it appends to the audit log.
    with holding(pair.database_url, "SELECT * FROM audit_head FOR UPDATE") as lock:
        async with pair.widget(pair.a) as client:
            request = asyncio.create_task(post(client, conversation_id, QUESTION, key))
            await eventually(
                lambda: asyncio.to_thread(blocked_by, pair.database_url, lock, "audit_head"),
                "worker A to wait for the audit log while recording the finished turn",
            )
            saved = checkpoints(pair.database_url, conversation_id)
            assert saved and message_states(pair.database_url, conversation_id) == [
                ("customer", "received", 1)
            ]
            pair.a.kill()
            await cut_off(request)

    async with pair.widget(pair.b) as client:
        # 409 until A's heartbeat lapses; then the retry takes the key over and records the turn.
        retry = await retried(client, conversation_id, QUESTION, key)
    assert retry.status_code == 200 and retry.json()["turn"] == 1, retry.text
    assert checkpoints(pair.database_url, conversation_id) == saved  # nothing ran again
    assert replies(pair.database_url, conversation_id) == [("assistant", "sent", 1)]


async def test_killed_while_a_review_is_pending_the_other_worker_holds_messages_and_resolves(
    killed_a: Pair,
) -> None:
    pair = killed_a
    conversation_id = await pair.conversation(pair.a)
    async with pair.widget(pair.a) as client:
        assert (await post(client, conversation_id, REFUND_TICKET, uuid.uuid4().hex)).status_code == 202
    pair.a.kill()

    async with pair.widget(pair.b) as client:
        held = await post(client, conversation_id, "any news?", uuid.uuid4().hex)
    assert held.status_code == 202 and held.json()["status"] == "waiting_for_human"
    async with pair.reviewer(pair.b) as reviewer:
        (review,) = [
            r for r in (await reviewer.get("/v1/reviews")).json() if r["conversation_id"] == conversation_id
        ]
        assert review["waiting_messages"] == ["any news?"]
        resolved = await reviewer.post(f"/v1/reviews/{review['id']}/resolve", json={"action": "approve"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "answered", resolved.text

    await pair.a.restart()
    assert message_states(pair.database_url, conversation_id) == [
        ("customer", "handed_off", 1),
        ("assistant", "sent", 1),
        ("customer", "held", 1),
        ("assistant", "sent", 1),
    ]
    assert forks(pair.database_url, conversation_id) == []


async def test_killed_while_recording_a_resolution_the_other_worker_finishes_it_once(
    killed_a: Pair,
) -> None:
    pair = killed_a
    conversation_id = await pair.conversation(pair.b)
    async with pair.widget(pair.b) as client:
        assert (await post(client, conversation_id, REFUND_TICKET, uuid.uuid4().hex)).status_code == 202
    async with pair.reviewer(pair.b) as reviewer:
        (review,) = [
            r for r in (await reviewer.get("/v1/reviews")).json() if r["conversation_id"] == conversation_id
        ]
    resolve_url = f"/v1/reviews/{review['id']}/resolve"

    # A resumes the conversation (its checkpoint saved), then waits for the audit log to record it.
    with holding(pair.database_url, "SELECT * FROM audit_head FOR UPDATE") as lock:
        async with pair.reviewer(pair.a) as reviewer:
            request = asyncio.create_task(reviewer.post(resolve_url, json={"action": "approve"}))
            await eventually(
                lambda: asyncio.to_thread(blocked_by, pair.database_url, lock, "audit_head"),
                "worker A to wait for the audit log while recording the resolution",
            )
            statuses = query(pair.database_url, "SELECT status FROM reviews WHERE id = %s", review["id"])
            assert statuses == [("resolving",)]
            saved = checkpoints(pair.database_url, conversation_id)
            pair.a.kill()
            await cut_off(request)

    async def resolved() -> bool:
        rows = query(pair.database_url, "SELECT status FROM reviews WHERE id = %s", review["id"])
        return rows == [("resolved",)]

    await eventually(resolved, "worker B to finish the resolution")
    assert checkpoints(pair.database_url, conversation_id) == saved  # recorded, not run again
    assert replies(pair.database_url, conversation_id) == [("assistant", "sent", 1), ("assistant", "sent", 1)]
    async with pair.reviewer(pair.b) as reviewer:
        again = await reviewer.post(resolve_url, json={"action": "approve"})
    assert again.status_code == 409 and "already resolved" in again.text
    events = query(
        pair.database_url,
        "SELECT count(*) FROM events WHERE conversation_id = %s AND type = 'review_resolved'",
        conversation_id,
    )
    assert events == [(1,)]
    assert forks(pair.database_url, conversation_id) == []
