"""The checkpointer factory: conversation state in SQLite under the data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

CHECKPOINT_FILE = "checkpoints.sqlite"


@asynccontextmanager
async def open_checkpointer(data_dir: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """An async SQLite checkpointer for the service's lifetime; closes its connection after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(data_dir / CHECKPOINT_FILE)) as saver:
        await saver.setup()
        yield saver
