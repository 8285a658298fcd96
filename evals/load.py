"""Load benchmark: simulated widgets against a real uvicorn server on loopback, then a loss audit."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.settings import Settings
from app.store.store import open_store
from evals.bench import sample_texts

READY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0


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


async def run_load(settings: Settings, widgets: int, messages: int, think_ms: float = 0) -> dict[str, Any]:
    """`widgets` concurrent conversations of `messages` turns each against a fresh server.

    With `think_ms` 0 every widget sends its next message as soon as it has the answer, which
    measures the server's capacity; a think time measures latency at the load it produces.
    """
    async with serving(settings) as server:
        limits = httpx.Limits(max_connections=widgets + 4)
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, limits=limits
        ) as client:
            await wait_ready(client, server.process)
            headers = {"Authorization": f"Bearer {server.widget_key}"}
            texts = sample_texts(widgets * messages)
            started = time.perf_counter()
            runs = await asyncio.gather(
                *(widget(client, headers, texts[i::widgets], think_ms, i) for i in range(widgets))
            )
            elapsed = time.perf_counter() - started
            integrity = await audit(client, headers, runs)
    return {
        "widgets": widgets,
        "messages_per_widget": messages,
        "think_ms": think_ms,
        **summary(runs, elapsed),
        **integrity,
    }
