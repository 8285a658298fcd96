"""The checkpointer factory: conversation state in SQLite under the data dir, or in PostgreSQL.

On PostgreSQL several workers share the checkpoints. LangGraph does not stop two processes from
writing one thread (its checkpoints would fork), so a write may carry a fencing token in its config
(`FENCE_TOKEN`): it is made in a transaction that first checks the token with `fence_check`, which
locks the conversation's lease row and raises when another worker has taken the lease over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

CHECKPOINT_FILE = "checkpoints.sqlite"
FENCE_TOKEN = "fence_token"
"""The configurable key of a run's fencing token."""
POOL_SIZE = 10
POOL_WAIT_SECONDS = 10.0
"""How long a run waits for a connection (the database restarting, say) before it fails as an outage."""
LOCK_POLL_SECONDS = 0.1
SETUP_LOCK = 7_310_002
"""PostgreSQL advisory lock key of the checkpoint tables' setup."""

STRICT_SERDE = JsonPlusSerializer(allowed_msgpack_modules=None)
"""Checkpoints deserialise only LangGraph's known-safe types (our state is plain data and LangChain
messages), so someone who can write to the checkpoint store cannot make a worker build other objects."""

FenceCheck = Callable[[AsyncConnection[DictRow], str, int], Awaitable[None]]
"""Checks (in the connection's open transaction) that `token` still holds the conversation's lease."""


@asynccontextmanager
async def open_checkpointer(
    data_dir: Path, postgres_url: str | None = None, fence_check: FenceCheck | None = None
) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The service's checkpointer: PostgreSQL when `postgres_url` is given, else SQLite in `data_dir`."""
    if postgres_url is not None:
        async with _postgres(postgres_url, fence_check) as saver:
            yield saver
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(data_dir / CHECKPOINT_FILE)) as connection:
        saver = AsyncSqliteSaver(connection, serde=STRICT_SERDE)
        await saver.setup()
        yield saver


@asynccontextmanager
async def _postgres(url: str, fence_check: FenceCheck | None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    # The connection settings langgraph-checkpoint-postgres requires of a pool.
    settings = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    # Every connection is checked as it is handed out, so one that a database restart broke is
    # replaced instead of failing the turn that drew it.
    pool = AsyncConnectionPool(
        url,
        connection_class=AsyncConnection[DictRow],
        max_size=POOL_SIZE,
        kwargs=settings,
        open=False,
        check=AsyncConnectionPool.check_connection,
        timeout=POOL_WAIT_SECONDS,
    )
    async with pool:
        saver = (
            FencedPostgresSaver(pool, fence_check)
            if fence_check is not None
            else AsyncPostgresSaver(pool, serde=STRICT_SERDE)
        )
        async with pool.connection() as connection:
            # Workers starting together set the tables up one after another. A session lock, not a
            # transaction's: the setup creates indexes concurrently, which no transaction may do.
            await _advisory_lock(connection, SETUP_LOCK)
            try:
                await AsyncPostgresSaver(connection).setup()
            finally:
                await connection.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
        yield saver


async def _advisory_lock(connection: AsyncConnection[DictRow], key: int) -> None:
    """Take a session advisory lock by polling, never waiting inside a transaction: the holder's
    concurrent index builds wait for every open transaction, so a blocked waiter would deadlock."""
    while True:
        row = await (await connection.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))).fetchone()
        if row is not None and row["ok"]:
            return
        await asyncio.sleep(LOCK_POLL_SECONDS)


class FencedPostgresSaver(AsyncPostgresSaver):
    """PostgreSQL checkpoints whose writes are refused once the run's lease is lost."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[DictRow]], fence_check: FenceCheck) -> None:
        super().__init__(pool, serde=STRICT_SERDE)
        self._pool = pool
        self._fence_check = fence_check

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        token = config["configurable"].get(FENCE_TOKEN)
        if token is None:
            return await super().aput(config, checkpoint, metadata, new_versions)
        async with self._fenced(config, token) as saver:
            return await saver.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        token = config["configurable"].get(FENCE_TOKEN)
        if token is None:
            return await super().aput_writes(config, writes, task_id, task_path)
        async with self._fenced(config, token) as saver:
            await saver.aput_writes(config, writes, task_id, task_path)

    @asynccontextmanager
    async def _fenced(self, config: RunnableConfig, token: int) -> AsyncIterator[AsyncPostgresSaver]:
        """A saver on one connection, inside a transaction that has checked the fence."""
        async with self._pool.connection() as connection, connection.transaction():
            await self._fence_check(connection, str(config["configurable"]["thread_id"]), int(token))
            yield AsyncPostgresSaver(connection, serde=self.serde)
