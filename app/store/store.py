"""The app store as one object: every table's store over one engine, opened once per process."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.audit import AuditLog
from app.store.business import BusinessStore
from app.store.conversations import ConversationStore
from app.store.customers import CustomerStore
from app.store.database import Sessions, create_engine, migrate
from app.store.erasure import ErasureStore
from app.store.events import EventStore
from app.store.idempotency import IdempotencyStore
from app.store.keys import KeyStore
from app.store.leases import LeaseStore
from app.store.policies import PolicyStore
from app.store.reviews import ReviewStore
from app.store.workers import WorkerStore

LOCK_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class AppStore:
    """Keys, conversations, reviews, events, idempotency records, customers, policies, the audit log,
    the demo company's business data, the conversation leases and worker heartbeats of a multi-worker
    deployment, and the removal of conversations and customers (retention, erasure)."""

    engine: AsyncEngine
    keys: KeyStore
    conversations: ConversationStore
    reviews: ReviewStore
    events: EventStore
    idempotency: IdempotencyStore
    customers: CustomerStore
    policies: PolicyStore
    audit: AuditLog
    business: BusinessStore
    leases: LeaseStore
    erasure: ErasureStore
    workers: WorkerStore

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Run the block alone among the processes sharing this database (a PostgreSQL advisory lock);
        a no-op on SQLite, which one process serves."""
        if self.engine.dialect.name != "postgresql":
            yield
            return
        key = zlib.crc32(name.encode())
        async with self.engine.connect() as connection:
            # Polled, committing between tries, so no transaction stays open while waiting.
            try_lock = text("SELECT pg_try_advisory_lock(:key)")
            while not (await connection.execute(try_lock, {"key": key})).scalar():
                await connection.commit()
                await asyncio.sleep(LOCK_POLL_SECONDS)
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()

    async def ping(self) -> None:
        """Raise when the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[AppStore]:
    """Connect, migrate to the latest schema, and close the pool when done."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessions = Sessions(engine)
        yield AppStore(
            engine=engine,
            keys=KeyStore(sessions),
            conversations=ConversationStore(sessions),
            reviews=ReviewStore(sessions),
            events=EventStore(sessions),
            idempotency=IdempotencyStore(sessions),
            customers=CustomerStore(sessions),
            policies=PolicyStore(sessions),
            audit=AuditLog(sessions),
            business=BusinessStore(sessions),
            leases=LeaseStore(sessions),
            erasure=ErasureStore(sessions),
            workers=WorkerStore(sessions),
        )
    finally:
        await engine.dispose()
