"""Empty databases on the test PostgreSQL server, made on demand and all dropped at the end."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest


@contextmanager
def scratch_databases(server: str, prefix: str) -> Iterator[Callable[[], str]]:
    """A factory of new, empty databases on `server` (each call: one more, by its URL), dropped with
    everything in them when the block ends; an unreachable server fails the test."""
    created: list[str] = []

    def create() -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        try:
            with psycopg.connect(server, autocommit=True, connect_timeout=5) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as error:
            pytest.fail(f"PostgreSQL at {server} is not reachable: {error}", pytrace=False)
        created.append(name)
        return urlsplit(server)._replace(path=f"/{name}").geturl()

    try:
        yield create
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            for name in created:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
