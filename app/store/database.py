"""The store's engine: created once from the database URL, migrated to the latest schema on start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_FILE = "app.sqlite"


class Sessions:
    """Sessions for reading and transactions for writing.

    On SQLite, writers queue here (FIFO) instead of sleeping in SQLite's busy handler, whose
    back-off turned concurrent writes into multi-second tails; other databases lock rows themselves.
    On PostgreSQL, reads and single-statement writes run in autocommit: each of their statements is
    one round trip, without a BEGIN and a COMMIT (or ROLLBACK) of its own.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._maker = async_sessionmaker(engine, expire_on_commit=False)
        if engine.dialect.name == "sqlite":
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
            self._autocommit = self._maker
        else:
            self._write_lock = None
            autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            self._autocommit = async_sessionmaker(autocommit, expire_on_commit=False)

    def __call__(self) -> AsyncSession:
        """A session for reads."""
        return self._autocommit()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends."""
        if self._write_lock is None:
            async with self._maker.begin() as session:
                yield session
            return
        async with self._write_lock, self._maker.begin() as session:
            yield session

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncSession]:
        """A session for one write that needs no transaction around it (an upsert, a conditional
        update): on PostgreSQL it commits by itself; on SQLite it is `begin`'s queued transaction."""
        if self._write_lock is not None:
            async with self.begin() as session:
                yield session
            return
        async with self._autocommit.begin() as session:
            yield session


def default_url(data_dir: Path) -> str:
    """The embedded default: SQLite under the data dir."""
    return f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE}"


def is_postgres(url: str) -> bool:
    """Whether the URL names a PostgreSQL database (any driver spelling)."""
    return url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def sqlalchemy_url(url: str) -> str:
    """The URL with the async driver SQLAlchemy needs: `postgresql://…` becomes `postgresql+asyncpg://…`."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else url


def libpq_url(url: str) -> str:
    """The plain `postgresql://…` URL psycopg (the checkpointer's driver) takes."""
    return "postgresql://" + url.split("://", 1)[1]


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block the writer."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No ping before each checkout (a round trip per transaction): a connection found dead by a
    # statement raises (a 503 for that request) and the pool then replaces every older connection.
    return create_async_engine(url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


MIGRATION_LOCK = 7_310_001
"""PostgreSQL advisory lock key: workers starting together migrate one after another."""


async def migrate(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied (on PostgreSQL under an advisory lock held to commit)."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(_upgrade)
