"""Fixtures of the HTTP API tests: an app per test on the test's private data dir, keys of each role.

The unit and the postgres suites import them from their conftest.

The models come from the session fixtures in tests/conftest.py and are shared by every app.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest
from api_helpers import issue_key
from fastapi.testclient import TestClient

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from app.store.keys import IssuedKey

API_TEST_TIMEOUT = 120
"""Seconds after which an API test is failed outright, whatever it waits on."""


@pytest.fixture(autouse=True)
def _api_hard_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """A last-resort deadline for the API tests, in case a stream or a request never returns."""
    if not request.module.__name__.startswith("test_api") or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"{request.node.nodeid} ran for more than {API_TEST_TIMEOUT}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(API_TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def client(settings: Settings, toolkit: Toolkit) -> Iterator[TestClient]:
    """The app on this test's data dir, started (lifespan run) for the test."""
    with TestClient(create_app(settings, toolkit)) as client:
        yield client


@pytest.fixture
def widget(client: TestClient) -> IssuedKey:
    return issue_key(client, "widget", "widget")


@pytest.fixture
def other_widget(client: TestClient) -> IssuedKey:
    return issue_key(client, "widget", "other widget")


@pytest.fixture
def reviewer(client: TestClient) -> IssuedKey:
    return issue_key(client, "reviewer", "ana")


@pytest.fixture
def other_reviewer(client: TestClient) -> IssuedKey:
    return issue_key(client, "reviewer", "ben")


@pytest.fixture
def admin(client: TestClient) -> IssuedKey:
    return issue_key(client, "admin", "admin")
