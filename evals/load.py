"""Load benchmark: simulated widgets against real `support-router serve` processes on loopback (one on
the embedded SQLite default, or several on a fresh PostgreSQL database), then a loss audit."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import psycopg

from app.settings import Settings
from app.store.store import open_store
from evals.bench import sample_texts

READY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The server a scaled run creates its own database on (and drops it afterwards)."""


@dataclass
class WidgetRun:
    """What one simulated widget saw: the messages it sent, by conversation."""

    sent: dict[str, list[str]] = field(default_factory=dict)
    """Messages the server confirmed (200 or 202), by conversation."""
    unconfirmed: dict[str, list[str]] = field(default_factory=dict)
    """Messages given up on without a confirmation: the server may or may not have accepted them."""
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    """Requests sent again with the same Idempotency-Key, by what made them fail."""


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def issue_widget_key(settings: Settings) -> str:
    """A widget key in the server's store, made before the server starts."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        await store.keys.create("admin", "load benchmark admin")  # so the server prints no first key
        return (await store.keys.create("widget", "load benchmark")).secret


def start_server(
    settings: Settings, port: int, log: Path | None = None, extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`support-router serve` in its own process, with this run's data dir and models (and `extra_env`,
    e.g. more SUPPORT_ROUTER_* settings); its output goes to `log` when given (else nowhere)."""
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(settings.data_dir),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(settings.triage_model),
        "SUPPORT_ROUTER_INDEX_DIR": str(settings.index_dir),
        "SUPPORT_ROUTER_RATE_LIMIT": "100000/second",
        **(extra_env or {}),
    }
    if settings.database_url is not None:
        env["SUPPORT_ROUTER_DATABASE_URL"] = settings.database_url
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if log is None:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down and wait for it."""
    server.terminate()
    server.wait(timeout=30)


@dataclass(frozen=True)
class Server:
    """A `support-router serve` started by `serving`: its process, address and a widget key."""

    process: subprocess.Popen[bytes]
    base_url: str
    widget_key: str
    started: float
    """`time.perf_counter()` just before the process was spawned."""


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Server]:
    """A server on loopback on a fresh temporary data dir, with the models and index of `settings`."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = settings.model_copy(
            update={"data_dir": Path(scratch), "index_dir_override": settings.index_dir}
        )
        key = await issue_widget_key(settings)
        port = free_port()
        started = time.perf_counter()
        process = start_server(settings, port)
        try:
            yield Server(process, f"http://127.0.0.1:{port}", key, started)
        finally:
            stop_server(process)


@asynccontextmanager
async def fresh_database(server: str) -> AsyncIterator[str]:
    """A new, empty database on `server` (its URL), dropped with everything in it afterwards."""
    name = f"sr_load_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(server, autocommit=True) as connection:
        await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        async with await psycopg.AsyncConnection.connect(server, autocommit=True) as connection:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Worker:
    """One `support-router serve` process of a scaled run, on a port of its own."""

    settings: Settings
    port: int
    log: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_server(self.settings, self.port, self.log, self.env)

    async def ready(self) -> None:
        assert self.process is not None
        async with httpx.AsyncClient(base_url=self.url) as probe:
            await wait_ready(probe, self.process)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_server(self.process)


@asynccontextmanager
async def workers_on_postgres(
    settings: Settings,
    count: int,
    server: str,
    env: Mapping[str, str] | None = None,
    logs: Path | None = None,
) -> AsyncIterator[tuple[list[Worker], str, str]]:
    """`count` ready workers sharing a fresh database on `server`, each with its own data dir; yields
    them, the database's URL and a widget key."""
    async with fresh_database(server) as database_url:
        with tempfile.TemporaryDirectory() as scratch:
            shared = settings.model_copy(
                update={"database_url": database_url, "index_dir_override": settings.index_dir}
            )
            key = await issue_widget_key(shared.model_copy(update={"data_dir": Path(scratch)}))
            workers = [
                Worker(
                    shared.model_copy(update={"data_dir": Path(scratch) / f"worker-{n}"}),
                    free_port(),
                    logs / f"worker-{n}.log" if logs else None,
                    env or {},
                )
                for n in range(count)
            ]
            try:
                for worker in workers:
                    worker.start()
                await asyncio.gather(*(worker.ready() for worker in workers))
                yield workers, database_url, key
            finally:
                for worker in workers:
                    worker.stop()


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    """Poll /readyz until the server answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError("the server did not become ready in time")


async def widget(
    client: httpx.AsyncClient, headers: dict[str, str], texts: Iterable[str], think_ms: float, seed: int
) -> WidgetRun:
    """Customer messages one after another, with a person's pause between them.

    A conversation handed to a person (202) is left to the reviewers and the widget's next message
    opens a new conversation, so every measured turn runs the whole graph rather than being held.
    """
    pauses = random.Random(seed)
    run = WidgetRun()
    conversation: str | None = None
    for text in texts:
        if conversation is None:
            created = await client.post("/v1/conversations", json={"channel": "chat"}, headers=headers)
            created.raise_for_status()
            conversation = created.json()["id"]
            run.sent[conversation] = []
        if think_ms:
            await asyncio.sleep(pauses.uniform(0, 2 * think_ms) / 1000)
        started = time.perf_counter()
        try:
            response = await client.post(
                f"/v1/conversations/{conversation}/messages",
                json={"text": text},
                headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
            )
            run.statuses[response.status_code] += 1
            if response.status_code in (200, 202):
                run.sent[conversation].append(text)
                if response.status_code == 202:
                    conversation = None
            else:
                run.errors.append(f"{response.status_code}: {response.text[:120]}")
        except httpx.HTTPError as error:
            run.errors.append(type(error).__name__)
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
    return run


async def audit(
    client: httpx.AsyncClient, headers: dict[str, str], runs: Sequence[WidgetRun]
) -> dict[str, int]:
    """Every confirmed message stored exactly once, none stored twice, and each one answered or handed
    to a person exactly once (one reply per turn)."""
    lost = duplicated = unanswered = duplicated_replies = 0
    conversations = {conversation for run in runs for conversation in (*run.sent, *run.unconfirmed)}
    for conversation in sorted(conversations):
        confirmed = [text for run in runs for text in run.sent.get(conversation, ())]
        unconfirmed = [text for run in runs for text in run.unconfirmed.get(conversation, ())]
        response = await client.get(f"/v1/conversations/{conversation}", headers=headers)
        transcript = response.json()["transcript"]
        stored = [m["text"] for m in transcript if m["role"] == "customer"]
        for text in set(confirmed) | set(unconfirmed):
            count = stored.count(text)
            lost += max(0, confirmed.count(text) - count)
            duplicated += max(0, count - confirmed.count(text) - unconfirmed.count(text))
        unanswered += sum(m["state"] == "received" for m in transcript if m["role"] == "customer")
        replies = Counter(m["turn"] for m in transcript if m["role"] in ("assistant", "reviewer"))
        duplicated_replies += sum(count - 1 for count in replies.values() if count > 1)
    return {
        "lost": lost,
        "duplicated": duplicated,
        "unanswered": unanswered,
        "duplicated_replies": duplicated_replies,
    }


def summary(runs: Sequence[WidgetRun], elapsed: float) -> dict[str, Any]:
    """Throughput, latency and errors of the widgets' runs over `elapsed` seconds."""
    latencies = np.asarray([ms for run in runs for ms in run.latencies_ms])
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies.size else (0.0, 0.0, 0.0)
    accepted = sum(len(sent) for run in runs for sent in run.sent.values())
    statuses = sum((run.statuses for run in runs), Counter[int]())
    return {
        "turns": accepted,
        "answered": statuses[200],
        "handed_to_a_person": statuses[202],
        "errors": sum(len(run.errors) for run in runs),
        "seconds": round(elapsed, 2),
        "turns_per_second": round(accepted / elapsed, 1),
        "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1), "p99": round(p99, 1)},
    }


@asynccontextmanager
async def deployment(
    settings: Settings, workers: int, postgres: str | None
) -> AsyncIterator[tuple[list[str], str]]:
    """The servers a run loads, ready, and a widget key: one on SQLite, or `workers` on PostgreSQL."""
    if postgres is None:
        async with serving(settings) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as probe:
                await wait_ready(probe, server.process)
            yield [server.base_url], server.widget_key
        return
    async with workers_on_postgres(settings, workers, postgres) as (started, _, key):
        yield [worker.url for worker in started], key


async def run_load(
    settings: Settings,
    widgets: int,
    messages: int,
    think_ms: float = 0,
    workers: int = 1,
    postgres: str | None = None,
) -> dict[str, Any]:
    """`widgets` concurrent conversations of `messages` turns each against fresh servers: one on the
    embedded SQLite default, or with `postgres` (a server URL) `workers` sharing a new database there,
    each widget kept on one worker (as a load balancer with sticky sessions would).

    With `think_ms` 0 every widget sends its next message as soon as it has the answer, which
    measures the servers' capacity; a think time measures latency at the load it produces.
    """
    async with deployment(settings, workers, postgres) as (urls, key), AsyncExitStack() as clients:
        limits = httpx.Limits(max_connections=widgets + 4)
        opened = [
            await clients.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits)
            )
            for url in urls
        ]
        headers = {"Authorization": f"Bearer {key}"}
        texts = sample_texts(widgets * messages)
        started = time.perf_counter()
        runs = await asyncio.gather(
            *(
                widget(opened[i % len(opened)], headers, texts[i::widgets], think_ms, i)
                for i in range(widgets)
            )
        )
        elapsed = time.perf_counter() - started
        integrity = await audit(opened[0], headers, runs)
    return {
        "widgets": widgets,
        "messages_per_widget": messages,
        "think_ms": think_ms,
        "workers": len(urls),
        "store": "postgresql" if postgres else "sqlite",
        **summary(runs, elapsed),
        **integrity,
    }
