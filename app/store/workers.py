"""Worker heartbeats: which serving workers are alive, so the requests of a dead one can be taken over."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.database import Sessions
from app.store.models import WorkerHeartbeat, utcnow


class WorkerStore:
    """Beat, retire, and ask whether a worker is alive."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def beat(self, worker: str, ttl: timedelta) -> None:
        """Say that `worker` is alive for `ttl` more."""
        expires_at = utcnow() + ttl
        async with self._sessions.begin() as session:
            insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            await session.execute(
                insert(WorkerHeartbeat)
                .values(id=worker, expires_at=expires_at)
                .on_conflict_do_update(index_elements=[WorkerHeartbeat.id], set_={"expires_at": expires_at})
            )

    async def retire(self, worker: str) -> None:
        """Forget a worker that stops: its unfinished requests may be taken over at once."""
        async with self._sessions.begin() as session:
            await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == worker))

    async def retire_all_but(self, worker: str) -> None:
        """Forget every other worker: for a store that one process serves (SQLite), at its start."""
        async with self._sessions.begin() as session:
            await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id != worker))


async def is_alive(session: AsyncSession, worker: str | None) -> bool:
    """In the caller's session: whether `worker` has a heartbeat that has not expired."""
    if worker is None:
        return False
    expires_at = await session.scalar(select(WorkerHeartbeat.expires_at).where(WorkerHeartbeat.id == worker))
    return expires_at is not None and expires_at > utcnow()
