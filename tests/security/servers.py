"""The servers the security suite attacks over real HTTP: `support-router serve` itself, and the same app
on an in-process uvicorn when the test must hand it chat models (LLM mode's fakes, swapped per test)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel
from llm_fakes import ScriptedModels
from server_process import log_tail, stop_process_group, wait_until_ready

from agents.llm.config import AgentName
from agents.llm.factory import ModelFactory
from app.settings import Settings
from app.store.keys import Role
from app.store.store import open_store
from evals.load import free_port

READY_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 60.0
CALLERS: dict[str, Role] = {
    "admin": "admin",
    "widget": "widget",
    "other_widget": "widget",
    "reviewer": "reviewer",
}
"""The keys issued for every server: `widget` and `other_widget` stand for two sites' widgets."""


class SwappableModels:
    """A server's model factory whose fakes each test puts in for its next turns."""

    def __init__(self) -> None:
        self.current: ModelFactory = ScriptedModels()

    def chat_model(self, agent: AgentName) -> BaseChatModel:
        return self.current.chat_model(agent)


@dataclass(frozen=True)
class LiveServer:
    """A server on loopback, the keys issued in its store, and that store's URL (to check what it kept)."""

    url: str
    keys: dict[str, str]
    store_url: str

    def client(self, caller: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[caller]}"} if caller else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=REQUEST_TIMEOUT_S)

    def rows(self, table: str) -> int:
        """How many rows a table of the server's SQLite store holds (read-only, beside the server)."""
        path = self.store_url.removeprefix("sqlite+aiosqlite:///")
        assert path != self.store_url, "only a SQLite store can be read beside its server"
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as database:
            (count,) = database.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(count)


async def issue_keys(settings: Settings) -> dict[str, str]:
    """One key per caller, straight in the store before the server starts (it then prints no first key)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url) as store:
        return {caller: (await store.keys.create(role, caller)).secret for caller, role in CALLERS.items()}


@contextmanager
def serve_process(settings: Settings, log: Path) -> Iterator[LiveServer]:
    """`support-router serve` in a process group of its own, on `settings`' data dir and models."""
    keys = asyncio.run(issue_keys(settings))
    port = free_port()
    env = os.environ | {
        "SUPPORT_ROUTER_DATA_DIR": str(settings.data_dir),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(settings.triage_model),
        "SUPPORT_ROUTER_INDEX_DIR": str(settings.index_dir),
        "SUPPORT_ROUTER_RATE_LIMIT": settings.rate_limit,
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        server = LiveServer(f"http://127.0.0.1:{port}", keys, settings.store_url)
        wait_until_ready(
            server.url, lambda: process.poll() is None, lambda: log_tail(log, 40), READY_TIMEOUT_S
        )
        yield server
    finally:
        stop_process_group(process)


@contextmanager
def serve_in_thread(app: FastAPI, settings: Settings) -> Iterator[LiveServer]:
    """The app on a uvicorn server in a thread of this process, so that the test's objects are its own."""
    keys = asyncio.run(issue_keys(settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn :{port}", daemon=True)
    thread.start()
    try:
        live = LiveServer(f"http://127.0.0.1:{port}", keys, settings.store_url)
        wait_until_ready(
            live.url,
            thread.is_alive,
            lambda: "the server thread ended (its error is in the output)",
            READY_TIMEOUT_S,
        )
        yield live
    finally:
        server.should_exit = True
        thread.join(REQUEST_TIMEOUT_S)
