"""Real `support-router serve` processes for the fault suite, simulated widgets, and the loss audit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from server_process import log_tail, stop_process_group, wait_until_ready

from app.settings import Settings
from app.store.store import open_store
from evals.load import free_port

READY_TIMEOUT_S = 120.0
RECOVERY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0


@dataclass
class Router:
    """One server process, its address and log, and keys issued in its store before it started."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    keys: dict[str, str]

    def client(self, role: str = "widget") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=REQUEST_TIMEOUT_S)

    def log_tail(self) -> str:
        return log_tail(self.log, 40)


async def issue_keys(settings: Settings) -> dict[str, str]:
    """An admin and a widget key (the server then prints no first key)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        return {
            "admin": (await store.keys.create("admin", "fault suite admin")).secret,
            "widget": (await store.keys.create("widget", "fault suite widget")).secret,
        }


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server on `settings`' data dir and models, plus `extra` settings."""
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(settings.data_dir),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(settings.triage_model),
        "SUPPORT_ROUTER_INDEX_DIR": str(settings.index_dir),
        "SUPPORT_ROUTER_RATE_LIMIT": "100000/second",
        # Outages in these tests last seconds: finish deferred turns soon after they end.
        "SUPPORT_ROUTER_RECOVERY_INTERVAL_SECONDS": "0.5",
        "SUPPORT_ROUTER_POLICY_REFRESH_SECONDS": "0.5",
    }
    if settings.database_url is not None:
        env["SUPPORT_ROUTER_DATABASE_URL"] = settings.database_url
    return env | {f"SUPPORT_ROUTER_{name.upper()}": value for name, value in extra.items()}


def spawn(settings: Settings, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """`support-router serve` in its own process group, its output appended to `log`."""
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            env=server_env(settings, **extra),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start(settings: Settings, log: Path, **extra: str) -> Router:
    """A ready server on a free port, with keys issued in its store first; fails with its log."""
    keys = asyncio.run(issue_keys(settings))
    port = free_port()
    router = Router(spawn(settings, port, log, **extra), f"http://127.0.0.1:{port}", log, keys)
    try:
        wait_ready(router)
    except BaseException:
        stop(router)
        raise
    return router


def wait_ready(router: Router, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll /readyz until 200; fail with the server's log if it exits or takes too long."""
    wait_until_ready(router.url, lambda: router.process.poll() is None, router.log_tail, timeout)


def stop(router: Router) -> None:
    stop_process_group(router.process)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = RECOVERY_TIMEOUT_S
) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def assert_unavailable(response: httpx.Response, dependency: str) -> dict[str, Any]:
    """A 503 in the uniform error body naming `dependency`, with Retry-After; returns its detail."""
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["status"] == 503 and error["code"] == "service_unavailable", error
    assert "Traceback" not in response.text
    detail: dict[str, Any] = error["details"][0]
    assert detail["dependency"] == dependency, error
    return detail


async def new_conversation(client: httpx.AsyncClient, customer_id: str | None = None) -> str:
    created = await client.post("/v1/conversations", json={"customer_id": customer_id})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def post(
    client: httpx.AsyncClient, conversation: str, text: str, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post(
        f"/v1/conversations/{conversation}/messages", json={"text": text}, headers=headers
    )


@dataclass
class Widgets:
    """Simulated customers posting through a fault: what was accepted, deferred, refused, and every status.

    A message answered 2xx is accepted; a 503 saying the message was received is deferred (the service
    answers it later, so the widget does not send it again); any other 503 or a 409 is retried with the
    same Idempotency-Key until it gets through (a retry of a request whose message was stored after all
    must not store it twice). A conversation handed to a person is left to them.
    """

    client: httpx.AsyncClient
    accepted: dict[str, list[str]] = field(default_factory=dict)
    deferred: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    """Responses the faults must never produce: a 500, a 503 without the uniform body, and so on."""

    async def run(self, widget: int, messages: int, stop: asyncio.Event, question: str) -> None:
        conversation = await self._open()
        for number in range(messages):
            if stop.is_set():
                return
            text = f"{question} (widget {widget}, message {number})"
            key = uuid.uuid4().hex
            while True:
                if stop.is_set():
                    # Sent but never answered 2xx (a retry still refused when the load stopped): the
                    # service promised nothing, but it may hold it at most once, answered.
                    self.pending.setdefault(conversation, []).append(text)
                    return
                try:
                    response = await post(self.client, conversation, text, key)
                except httpx.TransportError as error:
                    self.bad.append(f"transport error: {error!r}")
                    return
                self.statuses.append(response.status_code)
                if response.status_code in (200, 202):
                    self.accepted.setdefault(conversation, []).append(text)
                    if response.status_code == 202:
                        conversation = await self._open()
                    break
                if response.status_code == 503 and self._deferred(response):
                    self.deferred.setdefault(conversation, []).append(text)
                    break
                if response.status_code not in (409, 503) or "Retry-After" not in response.headers:
                    self.bad.append(f"{response.status_code}: {response.text[:300]}")
                    return
                await asyncio.sleep(0.2)

    async def _open(self) -> str:
        while True:
            created = await self.client.post("/v1/conversations", json={"channel": "chat"})
            if created.status_code == 201:
                return str(created.json()["id"])
            if created.status_code != 503:
                self.bad.append(f"create {created.status_code}: {created.text[:300]}")
            await asyncio.sleep(0.2)

    def _deferred(self, response: httpx.Response) -> bool:
        try:
            detail = response.json()["error"]["details"][0]
        except (ValueError, KeyError, IndexError):
            self.bad.append(f"503 without the uniform body: {response.text[:300]}")
            return False
        return bool(detail.get("accepted"))


async def audit(client: httpx.AsyncClient, widgets: Widgets) -> None:
    """Every accepted and every deferred message is in its transcript exactly once, and (deferred ones
    once the service has caught up) answered or handed off; nothing is left unprocessed, nothing is
    stored twice, and nothing is stored that the widgets did not send."""

    async def caught_up() -> bool:
        for conversation in set(widgets.accepted) | set(widgets.deferred) | set(widgets.pending):
            for message in await customer_messages(client, conversation):
                if message["state"] == "received":
                    return False
        return True

    await eventually(caught_up, "every accepted message answered or handed off")
    for conversation in set(widgets.accepted) | set(widgets.deferred) | set(widgets.pending):
        stored = await customer_messages(client, conversation)
        texts = [m["text"] for m in stored]
        sent = widgets.accepted.get(conversation, []) + widgets.deferred.get(conversation, [])
        for text in sent:
            assert texts.count(text) == 1, (conversation, text, texts)
        unsure = widgets.pending.get(conversation, [])
        assert all(texts.count(text) <= 1 for text in unsure), (conversation, unsure, texts)
        assert set(texts) <= set(sent) | set(unsure), (conversation, texts, sent)
        # `held`: written after a handoff, kept for the person who has the conversation.
        assert all(m["state"] in ("answered", "handed_off", "held") for m in stored), stored


async def customer_messages(client: httpx.AsyncClient, conversation: str) -> list[dict[str, Any]]:
    while True:
        response = await client.get(f"/v1/conversations/{conversation}")
        if response.status_code != 503:
            break
        await asyncio.sleep(0.2)
    assert response.status_code == 200, response.text
    return [m for m in response.json()["transcript"] if m["role"] == "customer"]
