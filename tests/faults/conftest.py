"""The `faults` suite: faults injected over real HTTP into real `support-router serve` processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from private_postgres import PrivatePostgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL server, started, that the module's tests may stop and start."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
