"""Fixtures of the unit tests: the HTTP API's (in api_fixtures, shared with the postgres suite)."""

from api_fixtures import (  # noqa: F401 (fixtures are found by name)
    _api_hard_timeout,
    admin,
    client,
    other_reviewer,
    other_widget,
    reviewer,
    widget,
)
