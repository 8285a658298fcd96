"""The dashboard's queries (the same hand-checked numbers) and its endpoints again on PostgreSQL."""

from collections.abc import Callable

import pytest
from test_api_dashboard import *  # noqa: F403
from test_dashboard_store import *  # noqa: F403


@pytest.fixture
def store_url(new_database: Callable[[], str]) -> str:
    """A fresh PostgreSQL database for the seeded store."""
    return new_database()
