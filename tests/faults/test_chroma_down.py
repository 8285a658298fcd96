"""The Chroma server stopped under load and started again, with no restart of the worker.

A worker that searches its in-memory copy of the index (the default for an index of this size) keeps
answering with citations and reports the server as degraded; one that searches Chroma itself gives clear
503s naming the knowledge index, a /readyz that says so, and answers every accepted message once it is
back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from routers import Router, Widgets, assert_unavailable, audit, eventually, post, start, stop
from server_process import stop_process_group

from app.settings import Settings
from evals.load import free_port
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import COLLECTION, KnowledgeBase, open_client

CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "How do I reset my password?"


class ChromaServer:
    """`chroma run` on one port and directory, which the test stops and starts again."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log, self.port = path, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as output:
            command = [str(CHROMA), "run", "--path", str(self.path), "--port", str(self.port)]
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the Chroma server did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None


@pytest.fixture(scope="module")
def chroma(
    tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder, index_dir: Path
) -> Iterator[ChromaServer]:
    scratch = tmp_path_factory.mktemp("chroma-faults")
    server = ChromaServer(scratch / "index", scratch / "chroma.log")
    server.start()
    try:
        # The session's index copied over as is: embedding every article again would take minutes.
        served = KnowledgeBase(open_client(scratch / "unused", server.url), embedder)
        entries = (
            open_client(index_dir)
            .get_collection(COLLECTION)
            .get(include=["embeddings", "documents", "metadatas"])
        )
        served._collection.add(
            ids=entries["ids"],
            embeddings=entries["embeddings"],
            documents=entries["documents"],
            metadatas=entries["metadatas"],
        )
        assert served.count() == KnowledgeBase(open_client(index_dir), embedder).count()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def router(
    chroma: ChromaServer, make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Router]:
    scratch = tmp_path_factory.mktemp("chroma-router")
    router = start(make_settings(scratch / "data"), scratch / "server.log", chroma_url=chroma.url)
    yield router
    stop(router)


@pytest.fixture(scope="module")
def chroma_only_router(
    chroma: ChromaServer, make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Router]:
    scratch = tmp_path_factory.mktemp("chroma-only-router")
    settings = make_settings(scratch / "data")
    router = start(settings, scratch / "server.log", chroma_url=chroma.url, index_memory_max_entries="0")
    yield router
    stop(router)


async def test_chroma_down_mid_load_is_answered_from_the_in_memory_copy(
    chroma: ChromaServer, router: Router
) -> None:
    async with router.client() as client:
        widgets = Widgets(client)
        done = asyncio.Event()
        load = asyncio.gather(*(widgets.run(n, 12, done, QUESTION) for n in range(4)))
        try:
            await eventually(lambda: _has_accepted(widgets, 4), "some turns before the fault")
            chroma.stop()
            await eventually(lambda: _index_reported(client, "degraded"), "/readyz: the index is degraded")
            before = len(widgets.statuses)
            await eventually(lambda: _seen(widgets, before + 8), "the widgets keep getting answers")
            during = await post(client, await _conversation(client), QUESTION)
            assert during.status_code == 200 and during.json()["citations"], during.text
            chroma.start()
            await eventually(lambda: _index_reported(client, "ok"), "/readyz: the index is ok again")
        finally:
            done.set()
            await load
        assert not widgets.bad, widgets.bad
        assert 503 not in widgets.statuses
        await audit(client, widgets)
    assert router.process.poll() is None


async def test_chroma_down_mid_load_is_a_503_and_recovers_without_losing_a_message(
    chroma: ChromaServer, chroma_only_router: Router
) -> None:
    router = chroma_only_router
    async with router.client() as client:
        widgets = Widgets(client)
        done = asyncio.Event()
        load = asyncio.gather(*(widgets.run(n, 12, done, QUESTION) for n in range(4)))
        try:
            await eventually(lambda: _has_accepted(widgets, 4), "some turns before the fault")
            chroma.stop()

            async def refused_naming_the_index() -> bool:
                response = await post(client, await _conversation(client), QUESTION)
                if response.status_code == 200:
                    return False  # a turn that had already retrieved before the stop
                detail = assert_unavailable(response, "knowledge_index")
                return bool(detail["accepted"])

            await eventually(refused_naming_the_index, "a 503 naming the knowledge index")
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["knowledge_index"].startswith("error")
            before = len(widgets.statuses)
            await eventually(lambda: _seen(widgets, before + 4), "the widgets keep getting answers")
            chroma.start()
            await eventually(lambda: _ready(client), "/readyz is 200 again")
        finally:
            done.set()
            await load
        assert not widgets.bad, widgets.bad
        assert 503 in widgets.statuses
        await audit(client, widgets)
        after = await post(client, await _conversation(client), QUESTION)
        assert after.status_code == 200 and after.json()["citations"], after.text
    assert router.process.poll() is None


async def _conversation(client: httpx.AsyncClient) -> str:
    created = await client.post("/v1/conversations", json={})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _has_accepted(widgets: Widgets, count: int) -> bool:
    return sum(len(texts) for texts in widgets.accepted.values()) >= count


async def _seen(widgets: Widgets, count: int) -> bool:
    return len(widgets.statuses) >= count


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _index_reported(client: httpx.AsyncClient, state: str) -> bool:
    ready = await client.get("/readyz")
    return ready.status_code == 200 and ready.json()["checks"]["knowledge_index"].startswith(state)
