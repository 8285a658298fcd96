"""One turn at a time per conversation: in arrival order within a worker, under a lease across workers.

Within a process an asyncio lock (FIFO) queues a conversation's requests. With several workers on one
database, the worker also takes the conversation's lease (app/store/leases.py) and renews it while the
turn runs; every write of the turn (the app store's record and the checkpoint) carries the lease's
fencing token, so a worker that stalled past its lease cannot overwrite the new holder's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from app.refusals import BusyError
from app.store.leases import Fence, LeaseStore

log = logging.getLogger(__name__)


class ConversationBusyError(BusyError):
    """Another worker has held the conversation for longer than this request may wait."""


@dataclass
class LocalQueue:
    """One lock per conversation: turns of one conversation run one after another, in arrival order."""

    _locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _users: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def waiting(self, conversation_id: str) -> int:
        """Requests holding or queued for the conversation in this process."""
        return self._users.get(conversation_id, 0)

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Wait for the conversation's earlier turns (asyncio.Lock is FIFO), then run."""
        self._users[conversation_id] += 1
        try:
            async with self._locks[conversation_id]:
                yield
        finally:
            self._users[conversation_id] -= 1
            if not self._users[conversation_id]:
                del self._users[conversation_id], self._locks[conversation_id]


@dataclass
class ConversationLeases:
    """The local queue, plus the database lease when workers share a database (`store` set)."""

    store: LeaseStore | None = None
    """None for a single process (the embedded SQLite default): the local queue is enough."""
    ttl: timedelta = timedelta(seconds=30)
    """How long a lease lasts without renewal; it is renewed every third of this while held."""
    wait_seconds: float = 30.0
    """How long a request waits for another worker's lease before it is refused (409, retry)."""
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    local: LocalQueue = field(default_factory=LocalQueue)

    def waiting(self, conversation_id: str) -> int:
        """Requests holding or queued for the conversation in this process."""
        return self.local.waiting(conversation_id)

    @asynccontextmanager
    async def hold(
        self, conversation_id: str, wait_seconds: float | None = None
    ) -> AsyncIterator[Fence | None]:
        """Run the block as the conversation's only writer; yields the fence its writes must carry.

        Another worker's lease is waited for up to `wait_seconds` (default `self.wait_seconds`; 0 tries
        once), then ConversationBusyError.
        """
        async with self.local.hold(conversation_id):
            if self.store is None:
                yield None
                return
            fence = await self._acquire(self.store, conversation_id, wait_seconds)
            renewal = asyncio.create_task(self._renew(self.store, fence))
            try:
                yield fence
            finally:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
                await self._release(self.store, fence)

    async def _release(self, store: LeaseStore, fence: Fence) -> None:
        """Expire the lease now; when the database cannot be reached it lapses on its own (and this
        worker may take it again at once, see LeaseStore.acquire), so the turn's result stands."""
        try:
            await store.release(fence)
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not release the lease on %s: %s", fence.conversation_id, error)

    async def _acquire(self, store: LeaseStore, conversation_id: str, wait_seconds: float | None) -> Fence:
        """Poll until the lease is free, with jittered back-off, or give up after the wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.wait_seconds if wait_seconds is None else wait_seconds)
        pause = 0.02
        while True:
            fence = await store.acquire(conversation_id, self.holder, self.ttl)
            if fence is not None:
                return fence
            if loop.time() + pause > deadline:
                raise ConversationBusyError(
                    f"conversation {conversation_id} is busy on another worker; retry shortly"
                )
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 0.5)

    async def _renew(self, store: LeaseStore, fence: Fence) -> None:
        """Keep the lease while the turn runs; stop quietly once it is lost (the fence refuses writes)."""
        interval = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                renewed = await store.renew(fence, self.ttl)
            except (SQLAlchemyError, OSError) as error:  # the database may come back before the lease ends
                log.warning("could not renew the lease on conversation %s: %s", fence.conversation_id, error)
                continue
            if not renewed:
                log.warning("lost the lease on %s (token %d)", fence.conversation_id, fence.token)
                return
