"""Conversation leases: one holder at a time, takeover after expiry, and fenced writes refused after it.

The lease SQL is the same on SQLite and PostgreSQL; these run on SQLite, the `postgres` suite on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.leases import ConversationBusyError, ConversationLeases
from app.store.leases import LeaseLostError
from app.store.models import Message
from app.store.store import AppStore, open_store

TTL = timedelta(seconds=30)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AppStore]:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as store:
        yield store


async def test_a_lease_has_one_holder_until_it_is_released_and_tokens_only_grow(store: AppStore) -> None:
    first = await store.leases.acquire("c1", "worker-a", TTL)
    assert first is not None and first.token == 1
    assert await store.leases.acquire("c1", "worker-b", TTL) is None  # held
    assert await store.leases.acquire("c2", "worker-b", TTL) is not None  # other conversations are free
    await store.leases.release(first)
    second = await store.leases.acquire("c1", "worker-b", TTL)
    assert second is not None and second.token == 2


async def test_an_expired_lease_is_taken_over_and_the_old_holder_can_neither_renew_nor_write(
    store: AppStore,
) -> None:
    stale = await store.leases.acquire("c1", "worker-a", timedelta(seconds=-1))  # expired at once
    assert stale is not None
    current = await store.leases.acquire("c1", "worker-b", TTL)
    assert current is not None and current.token == stale.token + 1
    assert not await store.leases.renew(stale, TTL)
    message = Message(conversation_id="c1", role="customer", text="late write", turn=1)
    with pytest.raises(LeaseLostError):
        await store.conversations.record("c1", [message], fence=stale)
    assert await store.conversations.messages("c1") == []  # nothing of the refused write was kept
    await store.leases.release(stale)  # a stale release does not free the new holder's lease
    assert await store.leases.acquire("c1", "worker-c", TTL) is None


async def test_workers_sharing_a_database_run_one_conversations_turns_one_at_a_time(store: AppStore) -> None:
    workers = [ConversationLeases(store.leases), ConversationLeases(store.leases)]
    inside = 0
    most = 0

    async def turn(worker: ConversationLeases) -> int:
        nonlocal inside, most
        async with worker.hold("c1") as fence:
            assert fence is not None
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1
            return fence.token

    tokens = await asyncio.gather(*(turn(workers[i % 2]) for i in range(6)))
    assert most == 1 and sorted(tokens) == [1, 2, 3, 4, 5, 6]


async def test_a_request_gives_up_when_another_worker_keeps_the_conversation(store: AppStore) -> None:
    assert await store.leases.acquire("c1", "elsewhere", TTL) is not None
    impatient = ConversationLeases(store.leases, wait_seconds=0.2)
    with pytest.raises(ConversationBusyError):
        async with impatient.hold("c1"):
            pass


async def test_a_held_lease_is_renewed_while_the_turn_runs(store: AppStore) -> None:
    short = ConversationLeases(store.leases, ttl=timedelta(seconds=0.3))
    async with short.hold("c1") as fence:
        await asyncio.sleep(0.6)  # twice the ttl: only renewals keep it
        assert fence is not None and await store.leases.acquire("c1", "other", TTL) is None
