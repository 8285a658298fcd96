"""Workers to kill, locks to stop them with, and the store checks of the crash suite."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from server_process import log_tail

from app.settings import Settings
from app.store.portfolio import FREE_ID
from app.store.store import open_store
from evals.load import Worker as LoadWorker
from evals.load import free_port

WAIT_S = 60.0
"""The longest any single wait may take: a takeover needs a lease to lapse (LEASE_S) and a pass."""
LEASE_S = 3
WORKER_ENV = {
    "SUPPORT_ROUTER_LEASE_SECONDS": str(LEASE_S),
    "SUPPORT_ROUTER_RECOVERY_INTERVAL_SECONDS": "0.5",
}


@dataclass
class Worker(LoadWorker):
    """A worker a test kills and starts again; one that does not come up fails the test with its log."""

    name: str = "worker"

    async def ready(self) -> None:
        try:
            await super().ready()
        except RuntimeError as error:
            log = log_tail(self.log) if self.log else ""
            pytest.fail(f"{self.name}: {error}; its log:\n{log}", pytrace=False)

    async def restart(self) -> None:
        self.start()
        await self.ready()

    def client(self, secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)


async def issue_keys(settings: Settings) -> dict[str, str]:
    """A widget and a reviewer key in the store the workers will use (made before they start)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        await store.keys.create("admin", "first admin")  # so no worker prints a first key
        return {
            "widget": (await store.keys.create("widget", "widget")).secret,
            "reviewer": (await store.keys.create("reviewer", "ana")).secret,
        }


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    """Poll `check` until it holds, or fail saying what never happened."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        await asyncio.sleep(0.1)


@contextmanager
def holding(database_url: str, statement: str, *params: Any) -> Iterator[psycopg.Connection[Any]]:
    """Run `statement` (a LOCK or a SELECT … FOR UPDATE) in a transaction kept open until the block ends."""
    with psycopg.connect(database_url) as connection:
        connection.execute(statement, params or None)
        try:
            yield connection
        finally:
            connection.rollback()


def blocked_by(database_url: str, holder: psycopg.Connection[Any], fragment: str) -> bool:
    """Whether some worker's statement containing `fragment` is waiting for a lock `holder` has."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid)) AND query ILIKE %s",
            (holder.info.backend_pid, f"%{fragment}%"),
        ).fetchone()
    return row is not None and row[0] > 0


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one read, on a connection of its own."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(sql, params or None).fetchall()


def message_states(database_url: str, conversation_id: str) -> list[tuple[str, str, int]]:
    """(role, state, turn) of the conversation's messages, in order."""
    rows = query(
        database_url,
        "SELECT role, state, turn FROM messages WHERE conversation_id = %s ORDER BY id",
        conversation_id,
    )
    return [(str(role), str(state), int(turn)) for role, state, turn in rows]


def checkpoints(database_url: str, conversation_id: str) -> list[tuple[str, str | None]]:
    """(checkpoint id, parent id) of the conversation's checkpoints."""
    rows = query(
        database_url,
        "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints"
        " WHERE thread_id = %s AND checkpoint_ns = ''",
        conversation_id,
    )
    return [(str(checkpoint), parent) for checkpoint, parent in rows]


def forks(database_url: str, conversation_id: str) -> list[str]:
    """Checkpoints with more than one child: a fork of the conversation's history."""
    parents = [parent for _, parent in checkpoints(database_url, conversation_id) if parent is not None]
    return sorted({parent for parent in parents if parents.count(parent) > 1})


async def post(client: httpx.AsyncClient, conversation_id: str, text: str, key: str) -> httpx.Response:
    return await client.post(
        f"/v1/conversations/{conversation_id}/messages", json={"text": text}, headers={"Idempotency-Key": key}
    )


async def retried(client: httpx.AsyncClient, conversation_id: str, text: str, key: str) -> httpx.Response:
    """The request sent again with its key while the answer is 409 (its dead worker still owns it)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    response = await post(client, conversation_id, text, key)
    while response.status_code == 409 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        response = await post(client, conversation_id, text, key)
    return response


async def cut_off(request: asyncio.Task[httpx.Response]) -> None:
    """The request to a killed worker ends with a transport error, never an answer."""
    with pytest.raises(httpx.TransportError):
        await request


@dataclass
class Pair:
    """Workers A (the one killed) and B on one database, and the keys to talk to them."""

    a: Worker
    b: Worker
    database_url: str
    keys: dict[str, str]

    def widget(self, worker: Worker) -> httpx.AsyncClient:
        return worker.client(self.keys["widget"])

    def reviewer(self, worker: Worker) -> httpx.AsyncClient:
        return worker.client(self.keys["reviewer"])

    async def conversation(self, worker: Worker) -> str:
        async with self.widget(worker) as client:
            created = await client.post("/v1/conversations", json={"customer_id": FREE_ID})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def restart_a_if_dead(self) -> None:
        if self.a.process is None or self.a.process.poll() is not None:
            asyncio.run(self.a.restart())

    async def answered(self, conversation_id: str, turns: int) -> bool:
        customer = [m for m in message_states(self.database_url, conversation_id) if m[0] == "customer"]
        return len(customer) == turns and all(state != "received" for _, state, _ in customer)


@contextmanager
def running_pair(settings: Settings, directory: Path, env: dict[str, str] | None = None) -> Iterator[Pair]:
    """Workers A and B on the database of `settings`, each with a data dir of its own under `directory`."""
    assert settings.database_url is not None
    keys = asyncio.run(issue_keys(settings))
    workers = [
        Worker(
            settings.model_copy(update={"data_dir": directory / name}),
            free_port(),
            directory / f"{name}.log",
            WORKER_ENV | (env or {}),
            name=name,
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    try:
        asyncio.run(_all_ready(workers))
        yield Pair(workers[0], workers[1], settings.database_url, keys)
    finally:
        for worker in workers:
            worker.stop()


async def _all_ready(workers: list[Worker]) -> None:
    await asyncio.gather(*(worker.ready() for worker in workers))
