"""A full disk under the embedded SQLite deployment: 503s saying so, a /readyz that reports it, and every
accepted message answered once space is freed, without a restart.

The disk really fills: the data dir is a small tmpfs mount and a file takes its last free byte, so
SQLite gets ENOSPC from the kernel as it would on a full volume (SQLITE_FULL on the store, the
checkpointer and their write-ahead logs alike). `max_page_count` would only fail the files it is set
on, and a quota tool needs one on the machine; mounting needs root, which CI runs as.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from routers import (
    Router,
    Widgets,
    assert_unavailable,
    audit,
    eventually,
    new_conversation,
    post,
    start,
    stop,
)

from app.settings import Settings

QUESTION = "How do I change the email address on my account?"
DISK_MIB = 48


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mount = tmp_path_factory.mktemp("small-disk")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"mounting a {DISK_MIB} MiB tmpfs needs root: {result.stderr.strip()}", pytrace=False)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def router(
    small_disk: Path, make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Router]:
    log = tmp_path_factory.mktemp("full-disk") / "server.log"  # off the small disk
    router = start(make_settings(small_disk / "data"), log)
    yield router
    stop(router)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with one file (unbuffered, so each write meets ENOSPC itself)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as output:
        for size in (1 << 20, 4096, 1):
            try:
                while output.write(b"\0" * size):
                    pass
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
    return filler


async def test_a_full_disk_is_a_503_and_recovers_when_space_is_freed(
    small_disk: Path, router: Router
) -> None:
    async with router.client() as client:
        widgets = Widgets(client)
        done = asyncio.Event()
        load = asyncio.gather(*(widgets.run(n, 12, done, QUESTION) for n in range(3)))
        filler: Path | None = None
        try:
            await eventually(lambda: _accepted(widgets, 3), "some turns before the disk fills")
            filler = await asyncio.to_thread(fill, small_disk)

            async def refused_for_disk_space() -> bool:
                response = await client.post("/v1/conversations", json={})
                if response.status_code == 201:
                    response = await post(client, response.json()["id"], QUESTION)
                if response.status_code == 200:
                    return False  # SQLite may still have room in pages it already owns
                if response.status_code == 503:
                    detail = response.json()["error"]["details"][0]
                    assert_unavailable(response, detail["dependency"])
                    return (
                        detail["dependency"] in ("store", "checkpointer") and detail["reason"] == "disk full"
                    )
                raise AssertionError(response.text)

            await eventually(refused_for_disk_space, "a 503 saying the disk is full")
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["disk"].startswith("error: disk full")
        finally:
            if filler is not None:
                os.remove(filler)
        await eventually(lambda: _ready(client), "/readyz is 200 once space is freed")
        await asyncio.sleep(1)
        done.set()
        await load
        assert not widgets.bad, widgets.bad
        await audit(client, widgets)
        after = await post(client, await new_conversation(client), QUESTION)
        assert after.status_code == 200, after.text
    assert router.process.poll() is None


async def _accepted(widgets: Widgets, count: int) -> bool:
    return sum(len(texts) for texts in widgets.accepted.values()) >= count


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200
