"""Load-and-chaos benchmark: two workers on a fresh PostgreSQL database serve simulated widgets while one
of them is killed with SIGKILL and started again; then the store is audited.

The widgets spread their requests over both workers in turn, as a load balancer would, and send a
request again with the same Idempotency-Key when the connection fails or a worker answers 409 or 503
(busy, or a request that a dead worker still owns until its heartbeat lapses). The audit then checks
that every confirmed message is stored once and answered (or handed to a person) once, that nothing
accepted is left unanswered, and that no conversation's checkpoints fork.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from app.settings import Settings
from evals.bench import machine_facts, sample_texts, write_numbers_and_tables
from evals.load import DEFAULT_POSTGRES, WidgetRun, Worker, audit, summary, workers_on_postgres

REQUEST_TIMEOUT_S = 60.0
"""Longer than a request may wait for a dead worker's lease (SUPPORT_ROUTER_LEASE_SECONDS, 30 s)."""
MESSAGE_DEADLINE_S = 180.0
"""A message still unconfirmed after this long is given up on (and counted as an error)."""
SETTLE_TIMEOUT_S = 120.0
RETRYABLE = (409, 503)
BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class ChaosPlan:
    """How many widgets, for how long, when the worker is killed, and on which PostgreSQL server."""

    widgets: int = 32
    seconds: float = 60.0
    kill_at: float = 0.5
    """When worker 0 is killed, as a fraction of `seconds`."""
    think_ms: float = 0.0
    lease_seconds: float = 30.0
    """The workers' SUPPORT_ROUTER_LEASE_SECONDS: how long a dead worker's work waits to be taken over."""
    server: str = DEFAULT_POSTGRES
    """A PostgreSQL server URL; the run creates a database of its own there and drops it afterwards."""


class Balancer:
    """Round robin over the workers' clients: each request (and each retry) goes to the next worker."""

    def __init__(self, clients: Sequence[httpx.AsyncClient]) -> None:
        self._clients = itertools.cycle(clients)

    def next(self) -> httpx.AsyncClient:
        return next(self._clients)


async def with_retries(
    balancer: Balancer, run: WidgetRun, deadline: float, method: str, url: str, **request: Any
) -> httpx.Response | None:
    """Send until a worker answers with something other than 409/503; None once `deadline` passes."""
    for attempt in itertools.count():
        try:
            response = await balancer.next().request(method, url, **request)
        except httpx.TransportError as error:  # the worker died, or is not back yet: try the other
            failure, pause = type(error).__name__, BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
        else:
            if response.status_code not in RETRYABLE:
                return response
            failure, pause = str(response.status_code), float(response.headers.get("Retry-After", "1"))
        if time.monotonic() + pause > deadline:
            run.errors.append(f"gave up after {failure}")
            return None
        run.retries[failure] += 1
        await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def open_conversation(balancer: Balancer, headers: dict[str, str], run: WidgetRun) -> str | None:
    deadline = time.monotonic() + MESSAGE_DEADLINE_S
    body = {"channel": "chat"}
    created = await with_retries(
        balancer, run, deadline, "POST", "/v1/conversations", json=body, headers=headers
    )
    if created is None or created.status_code != 201:
        if created is not None:
            run.errors.append(f"{created.status_code}: {created.text[:120]}")
        return None
    conversation = str(created.json()["id"])
    run.sent[conversation] = []
    return conversation


async def send(
    balancer: Balancer, headers: dict[str, str], run: WidgetRun, conversation: str, text: str
) -> int | None:
    """One customer message, retried with its Idempotency-Key until confirmed; the final status."""
    started = time.perf_counter()
    request_headers = headers | {"Idempotency-Key": uuid.uuid4().hex}
    url = f"/v1/conversations/{conversation}/messages"
    deadline = time.monotonic() + MESSAGE_DEADLINE_S
    response = await with_retries(
        balancer, run, deadline, "POST", url, json={"text": text}, headers=request_headers
    )
    if response is None:
        run.unconfirmed.setdefault(conversation, []).append(text)
        return None
    run.statuses[response.status_code] += 1
    if response.status_code in (200, 202):
        run.sent[conversation].append(text)
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
    else:
        run.errors.append(f"{response.status_code}: {response.text[:120]}")
    return response.status_code


async def chaos_widget(
    balancer: Balancer,
    headers: dict[str, str],
    texts: Iterable[str],
    stop_at: float,
    think_ms: float,
    seed: int,
) -> WidgetRun:
    """Messages one after another until `stop_at`; a conversation handed to a person (202) is left to
    the reviewers and the next message opens a new one, so every turn runs the whole graph."""
    pauses = random.Random(seed)
    run = WidgetRun()
    conversation: str | None = None
    for text in itertools.cycle(texts):
        if time.monotonic() >= stop_at:
            break
        if conversation is None:
            conversation = await open_conversation(balancer, headers, run)
            if conversation is None:
                continue
        if think_ms:
            await asyncio.sleep(pauses.uniform(0, 2 * think_ms) / 1000)
        if await send(balancer, headers, run, conversation, text) == 202:
            conversation = None
    return run


async def kill_and_restart(worker: Worker, after_s: float, started: float) -> dict[str, float]:
    """SIGKILL the worker `after_s` into the run, start it again at once; when each happened."""
    await asyncio.sleep(after_s)
    worker.kill()
    killed = time.perf_counter()
    worker.start()
    await worker.ready()
    return {"killed_at_s": round(killed - started, 2), "back_after_s": round(time.perf_counter() - killed, 2)}


async def unfinished(database_url: str) -> tuple[int, int]:
    """(accepted messages not yet answered, reviews whose resolution is not yet recorded)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        received = await (
            await connection.execute("SELECT count(*) FROM messages WHERE state = 'received'")
        ).fetchone()
        resolving = await (
            await connection.execute("SELECT count(*) FROM reviews WHERE status = 'resolving'")
        ).fetchone()
    return int(received[0] if received else 0), int(resolving[0] if resolving else 0)


async def settle(database_url: str) -> float:
    """Wait (up to SETTLE_TIMEOUT_S) for recovery to finish what the kill left; how long it took."""
    started = time.perf_counter()
    while any(await unfinished(database_url)) and time.perf_counter() - started < SETTLE_TIMEOUT_S:
        await asyncio.sleep(0.5)
    return round(time.perf_counter() - started, 2)


STORE_CHECKS = {
    "checkpoint_forks": "SELECT count(*) FROM (SELECT thread_id, parent_checkpoint_id FROM checkpoints"
    " WHERE checkpoint_ns = '' AND parent_checkpoint_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) f",
    "replies_twice_in_store": "SELECT count(*) FROM (SELECT conversation_id, turn FROM messages"
    " WHERE role IN ('assistant', 'reviewer') GROUP BY 1, 2 HAVING count(*) > 1) d",
    "received_left": "SELECT count(*) FROM messages WHERE state = 'received'",
    "resolving_left": "SELECT count(*) FROM reviews WHERE status = 'resolving'",
    "keys_in_progress": "SELECT count(*) FROM idempotency_records WHERE status = 'in_progress'",
}
"""Store-wide counts; all but `keys_in_progress` must be 0 (a key whose request died before its
message was accepted stays in progress, harmlessly, until a retry takes it over)."""


async def store_checks(database_url: str) -> dict[str, int]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        counts = {}
        for name, sql in STORE_CHECKS.items():
            row = await (await connection.execute(sql)).fetchone()
            counts[name] = int(row[0]) if row else 0
    return counts


def verdict(integrity: dict[str, int]) -> bool:
    """Whether the store kept every promise: all counts but `keys_in_progress` are 0."""
    return all(count == 0 for name, count in integrity.items() if name != "keys_in_progress")


async def run_chaos(settings: Settings, plan: ChaosPlan, log_dir: Path | None = None) -> dict[str, Any]:
    """The whole run on a fresh database: start two workers, load them, kill and restart one, audit."""
    env = {"SUPPORT_ROUTER_LEASE_SECONDS": str(plan.lease_seconds)}
    with tempfile.TemporaryDirectory() as scratch:
        logs = log_dir or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        async with (
            workers_on_postgres(settings, 2, plan.server, env, logs) as (workers, database_url, key),
            AsyncExitStack() as stack,
        ):
            limits = httpx.Limits(max_connections=plan.widgets + 4)
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=w.url, timeout=REQUEST_TIMEOUT_S, limits=limits)
                )
                for w in workers
            ]
            headers = {"Authorization": f"Bearer {key}"}
            results = await load_through_a_kill(workers[0], Balancer(clients), headers, plan)
            results["settle_s"] = await settle(database_url)
            seen = await audit(clients[1], headers, results.pop("runs"))
            integrity = seen | await store_checks(database_url)
    return results | {"integrity": integrity, "ok": verdict(integrity)}


async def load_through_a_kill(
    victim: Worker, balancer: Balancer, headers: dict[str, str], plan: ChaosPlan
) -> dict[str, Any]:
    """The widgets for `plan.seconds`, with `victim` killed and restarted on the way."""
    texts = sample_texts(max(plan.widgets * 8, 64))
    started = time.perf_counter()
    stop_at = time.monotonic() + plan.seconds
    chaos = asyncio.create_task(kill_and_restart(victim, plan.seconds * plan.kill_at, started))
    runs = await asyncio.gather(
        *(
            chaos_widget(balancer, headers, texts[i :: plan.widgets], stop_at, plan.think_ms, i)
            for i in range(plan.widgets)
        )
    )
    elapsed = time.perf_counter() - started
    kill = await chaos
    errors = Counter(error for run in runs for error in run.errors)
    retries = sum((run.retries for run in runs), Counter[str]())
    return {
        "machine": machine_facts(),
        "config": asdict(plan) | {"workers": 2, "server": urlsplit(plan.server)._replace(path="").geturl()},
        **summary(runs, elapsed),
        "errors_by_kind": dict(errors.most_common()),
        "retries": sum(retries.values()),
        "retries_by_kind": dict(retries.most_common()),
        "kill": kill,
        "runs": runs,
    }


def write_report(results: dict[str, Any], report_dir: Path) -> tuple[Path, Path]:
    """chaos.json (every number) and chaos.md (the tables) in `report_dir`."""
    return write_numbers_and_tables(report_dir, "chaos", results, render_markdown(results))


def render_markdown(results: dict[str, Any]) -> str:
    """The run, its figures, and the audit, as markdown."""
    config, kill, latency = results["config"], results["kill"], results["latency_ms"]
    lines = [
        "# support-router chaos",
        "",
        f"{config['widgets']} widgets for {config['seconds']:g} s against 2 workers on PostgreSQL; "
        f"worker 0 killed with SIGKILL at {kill['killed_at_s']:g} s and serving again "
        f"{kill['back_after_s']:g} s later (lease {config['lease_seconds']:g} s).",
        "",
        "| turns | seconds | turns/s | p50 ms | p95 ms | p99 ms | errors | retries |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {results['turns']} | {results['seconds']} | {results['turns_per_second']} | {latency['p50']} "
        f"| {latency['p95']} | {latency['p99']} | {results['errors']} | {results['retries']} |",
        "",
        "Latency is from a message's first attempt to its answer, retries included; the seconds run until",
        "the last message sent before the end is answered.",
        "",
        *counts_table("retried after", results["retries_by_kind"], "No request was retried."),
        *counts_table("error", results["errors_by_kind"], "No errors."),
        f"Audit after {results['settle_s']:g} s of recovery: **{'passed' if results['ok'] else 'FAILED'}**",
        "",
        "| check | count |",
        "|---|---:|",
        *(f"| {name} | {count} |" for name, count in results["integrity"].items()),
    ]
    return "\n".join(lines) + "\n"


def counts_table(heading: str, counts: dict[str, int], none: str) -> list[str]:
    """A two-column markdown table of counts, or one line when there are none."""
    if not counts:
        return [none, ""]
    return [f"| {heading} | times |", "|---|---:|", *(f"| {k} | {n} |" for k, n in counts.items()), ""]
