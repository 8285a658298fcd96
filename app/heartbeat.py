"""A worker's heartbeat: renewed while it runs, so that the requests of a worker that died are taken over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from app.store.workers import WorkerStore

log = logging.getLogger(__name__)


@asynccontextmanager
async def beating(workers: WorkerStore, worker: str, ttl: timedelta, alone: bool) -> AsyncIterator[None]:
    """Keep `worker` alive (renewed every third of `ttl`) while the block runs, and retire it after.

    `alone`: no other process serves this store (SQLite), so any other heartbeat is a dead process's.
    """
    if alone:
        await workers.retire_all_but(worker)
    await workers.beat(worker, ttl)
    renewal = asyncio.create_task(_renew(workers, worker, ttl))
    try:
        yield
    finally:
        renewal.cancel()
        with suppress(asyncio.CancelledError):
            await renewal
        with suppress(SQLAlchemyError, OSError):  # unreachable now: the heartbeat lapses on its own
            await workers.retire(worker)


async def _renew(workers: WorkerStore, worker: str, ttl: timedelta) -> None:
    while True:
        await asyncio.sleep(ttl.total_seconds() / 3)
        try:
            await workers.beat(worker, ttl)
        except (SQLAlchemyError, OSError) as error:  # the database may come back before the beat lapses
            log.warning("could not renew the heartbeat of worker %s: %s", worker, error)
