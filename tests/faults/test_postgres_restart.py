"""PostgreSQL (a private server) stopped and started while two workers take widget traffic: clear 503s
while it is away, every accepted message answered once it is back, no worker restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from private_postgres import PrivatePostgres
from routers import Router, Widgets, audit, eventually, start, stop

from app.settings import Settings

QUESTION = "How do I turn on two-factor authentication?"


@pytest.fixture(scope="module")
def workers(
    postgres: PrivatePostgres,
    make_settings: Callable[[Path], Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Router]]:
    scratch = tmp_path_factory.mktemp("postgres-faults")
    settings = make_settings(scratch / "worker-0").model_copy(update={"database_url": postgres.url})
    routers = [start(settings, scratch / "worker-0.log")]
    try:
        # The second worker shares the database and keys; it starts after the first has migrated.
        second = settings.model_copy(update={"data_dir": scratch / "worker-1"})
        routers.append(start(second, scratch / "worker-1.log"))
        yield routers
    finally:
        for router in routers:
            stop(router)


async def test_postgres_restarted_mid_load_loses_no_accepted_message(
    postgres: PrivatePostgres, workers: list[Router]
) -> None:
    clients = [router.client() for router in workers]
    for client, router in zip(clients, workers, strict=True):
        client.headers["Authorization"] = f"Bearer {workers[0].keys['widget']}"
        assert router.keys  # each start issued its own keys; the first worker's widget key serves both
    widgets = [Widgets(client) for client in clients]
    done = asyncio.Event()
    load = asyncio.gather(*(w.run(n, 15, done, QUESTION) for n, w in enumerate(widgets * 2)))
    try:
        await eventually(lambda: _accepted(widgets, 6), "some turns before the restart")
        await asyncio.to_thread(postgres.stop)

        async def unavailable() -> bool:
            ready = await clients[0].get("/readyz")
            return ready.status_code == 503 and ready.json()["checks"]["store"].startswith("error")

        await eventually(unavailable, "/readyz names the store while PostgreSQL is down")
        seen = sum(len(w.statuses) for w in widgets)
        await eventually(lambda: _statuses(widgets, seen + 4), "the widgets keep being answered")
        await asyncio.to_thread(postgres.start)
        for client in clients:
            await eventually(lambda c=client: _ready(c), "/readyz is 200 again on both workers")
        await asyncio.sleep(2)  # traffic after the restart, through pools that lost every connection
    finally:
        done.set()
        await load
    for widget in widgets:
        assert not widget.bad, widget.bad
    assert any(503 in w.statuses for w in widgets)
    for widget in widgets:
        await audit(clients[0], widget)
    for client in clients:
        await client.aclose()
    assert all(router.process.poll() is None for router in workers)


async def _accepted(widgets: list[Widgets], count: int) -> bool:
    return sum(len(t) for w in widgets for t in w.accepted.values()) >= count


async def _statuses(widgets: list[Widgets], count: int) -> bool:
    return sum(len(w.statuses) for w in widgets) >= count


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False
