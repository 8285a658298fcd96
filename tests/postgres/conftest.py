"""The `postgres` suite: the API tests and a two-worker deployment on the local PostgreSQL.

Every app gets a fresh database, created here and dropped at the end of the session. The server is
`SUPPORT_ROUTER_TEST_POSTGRES` (default: the machine's local one, database `test`, trust auth); CI has it,
so an unreachable server fails the suite instead of skipping it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scratch_databases import scratch_databases

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))  # the API tests and their helpers

from api_fixtures import (  # noqa: E402, F401 (fixtures are found by name)
    _api_hard_timeout,
    admin,
    client,
    other_reviewer,
    other_widget,
    reviewer,
    widget,
)

from app.settings import Settings  # noqa: E402

SERVER = os.environ.get("SUPPORT_ROUTER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test server's URL, for runs that create (and drop) databases of their own on it."""
    return SERVER


@pytest.fixture(scope="session")
def new_database() -> Iterator[Callable[[], str]]:
    """Creates empty databases on the test server; drops them all when the session ends."""
    with scratch_databases(SERVER, "sr_test") as create:
        yield create


@pytest.fixture(scope="session")
def make_settings(
    make_settings: Callable[[Path], Settings], new_database: Callable[[], str]
) -> Callable[[Path], Settings]:
    """The unit suite's settings, each on a fresh PostgreSQL database."""

    def make(data_dir: Path) -> Settings:
        return make_settings(data_dir).model_copy(update={"database_url": new_database()})

    return make
