"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from app.store.database import create_engine, default_url, migrate
from app.store.models import Base


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    engine = create_engine(default_url(tmp_path))
    try:
        await migrate(engine)
        await migrate(engine)  # a second start finds nothing to do
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert {"api_keys", "conversations", "messages", "reviews", "events", "idempotency_records"} <= tables
    assert "alembic_version" in tables
