"""Two `support-router serve` workers on one PostgreSQL database, reached alternately as a load
balancer would: one conversation's turns stay serialised, nothing is lost, checkpoints never fork, and
idempotency and review claims hold across the workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from app.settings import Settings
from app.store.store import open_store
from evals.load import free_port, start_server, stop_server, wait_ready

QUESTIONS = [
    "How do I reset my password?",
    "And how long is the reset link valid?",
    "What if the email never arrives?",
    "Can I change the email address on my account?",
    "How do I turn on two-factor authentication?",
    "What if I lose my phone?",
    "Can I use an authenticator app instead of SMS?",
    "How do I verify my mobile number?",
]


@dataclass(frozen=True)
class Workers:
    urls: list[str]
    database_url: str
    keys: dict[str, str]

    def client(self, worker: int, key: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        return httpx.AsyncClient(base_url=self.urls[worker], headers=headers, timeout=60)


def settings_test(settings: Settings) -> None:
    assert settings.store_url.startswith("postgresql://")  # this suite really runs on PostgreSQL


@pytest.fixture
async def workers(make_settings: Callable[[Path], Settings], tmp_path: Path) -> AsyncIterator[Workers]:
    settings = make_settings(tmp_path / "shared")
    async with open_store(settings.store_url) as store:
        await store.keys.create("admin", "first admin")  # so neither worker prints a first key
        keys = {
            "widget": (await store.keys.create("widget", "widget")).secret,
            "ana": (await store.keys.create("reviewer", "ana")).secret,
            "ben": (await store.keys.create("reviewer", "ben")).secret,
        }
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    processes = [
        start_server(settings.model_copy(update={"data_dir": tmp_path / f"worker-{n}"}), port, log)
        for n, (port, log) in enumerate(zip(ports, logs, strict=True))
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process, log in zip(urls, processes, logs, strict=True):
            async with httpx.AsyncClient(base_url=url) as probe:
                try:
                    await wait_ready(probe, process)
                except RuntimeError as error:
                    pytest.fail(f"{error}; its log:\n{log.read_text()[-3000:]}", pytrace=False)
        assert settings.database_url is not None
        yield Workers(urls, settings.database_url, keys)
    finally:
        for process in processes:
            stop_server(process)


def test_the_suite_runs_on_postgresql(settings: Settings) -> None:
    settings_test(settings)


async def post(
    client: httpx.AsyncClient, conversation: str, text: str, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    url = f"/v1/conversations/{conversation}/messages"
    return await client.post(url, json={"text": text}, headers=headers)


async def test_one_conversation_through_both_workers_is_serialised_and_loses_nothing(
    workers: Workers,
) -> None:
    clients = [workers.client(0, "widget"), workers.client(1, "widget")]
    created = await clients[0].post("/v1/conversations", json={"customer_id": "cus_free"})
    conversation = created.json()["id"]
    # All at once, alternating workers: each worker queues its own, the lease orders them across both.
    responses = await asyncio.gather(
        *(post(clients[n % 2], conversation, text) for n, text in enumerate(QUESTIONS))
    )
    assert [r.status_code for r in responses] == [200] * len(QUESTIONS), [r.text for r in responses]
    assert sorted(r.json()["turn"] for r in responses) == list(range(1, len(QUESTIONS) + 1))

    view = (await clients[1].get(f"/v1/conversations/{conversation}")).json()
    said = [m["text"] for m in view["transcript"] if m["role"] == "customer"]
    replies = [m for m in view["transcript"] if m["role"] == "assistant"]
    assert sorted(said) == sorted(QUESTIONS) and len(replies) == len(QUESTIONS)
    assert view["turns"] == len(QUESTIONS) and len(view["outcomes"]) == len(QUESTIONS)
    assert no_fork(workers.database_url, conversation)
    for client in clients:
        await client.aclose()


def no_fork(database_url: str, conversation: str) -> bool:
    """Whether the conversation's checkpoints form one chain: no checkpoint has two children."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT parent_checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
            (conversation,),
        ).fetchall()
    parents = [row[0] for row in rows]
    return len(rows) >= len(QUESTIONS) and len(parents) == len(set(parents))


async def test_idempotency_keys_and_review_claims_hold_across_workers(workers: Workers) -> None:
    first, second = workers.client(0, "widget"), workers.client(1, "widget")
    conversation = (await first.post("/v1/conversations", json={"customer_id": "cus_free"})).json()["id"]
    original = await post(first, conversation, QUESTIONS[0], key="same-key")
    replay = await post(second, conversation, QUESTIONS[0], key="same-key")
    assert replay.status_code == original.status_code == 200 and replay.json() == original.json()
    assert (await post(second, conversation, "something else", key="same-key")).status_code == 422

    escalated = (await first.post("/v1/conversations", json={"customer_id": "cus_free"})).json()["id"]
    assert (await post(second, escalated, "I will sue you over this double charge")).status_code == 202
    ana, ben = workers.client(0, "ana"), workers.client(1, "ben")
    reviews: list[dict[str, Any]] = (await ben.get("/v1/reviews")).json()
    review = next(r["id"] for r in reviews if r["conversation_id"] == escalated)
    assert (await ana.post(f"/v1/reviews/{review}/claim")).status_code == 200
    assert (await ben.post(f"/v1/reviews/{review}/claim")).status_code == 409
    for client in (first, second, ana, ben):
        await client.aclose()
