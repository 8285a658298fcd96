"""The `crash` suite: real `support-router serve` workers killed with SIGKILL at chosen points of a turn.

A test stops a worker where it wants it by making the worker wait on something the test holds (a
PostgreSQL lock taken by the test's own connection, a held LLM request, a gate file), checks that
the worker is waiting there, kills it, lets go, and then checks what the other worker, or the same
one restarted, makes of what was left: every accepted message answered once, every approved action
executed once, one chain of checkpoints.

The workers run with short leases and frequent recovery passes (see WORKER_ENV), so a dead worker's
conversations are taken over within seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scratch_databases import scratch_databases

from app.settings import Settings

SERVER = os.environ.get("SUPPORT_ROUTER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.crash)
            if "postgres" in item.fixturenames:
                item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Callable[[], str]]:
    """Creates empty databases on the test server; drops them when the module is done."""
    with scratch_databases(SERVER, "sr_crash") as create:
        yield create


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def base_settings(make_settings: Callable[[Path], Settings], module_dir: Path) -> Settings:
    return make_settings(module_dir / "data")
