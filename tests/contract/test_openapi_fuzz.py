"""Schemathesis against the app's own OpenAPI schema: no 5xx, and every response matches the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schema_checks import semantic_checks
from schemathesis import GenerationMode

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from app.store.keys import IssuedKey


@pytest.fixture(scope="module")
def running_app(
    tmp_path_factory: pytest.TempPathFactory, head_dir: Path, index_dir: Path, toolkit: Toolkit
) -> Iterator[tuple[FastAPI, str]]:
    """The app with its lifespan running (so its service exists), and an admin key."""
    data_dir = tmp_path_factory.mktemp("fuzz-data")
    app_settings = Settings(
        data_dir=data_dir, triage_model=head_dir, index_dir_override=index_dir, rate_limit="100000/second"
    )
    app = create_app(app_settings, toolkit)
    with TestClient(app) as client:
        issued: IssuedKey = client.portal.call(app.state.service.store.keys.create, "admin", "fuzzer")
        yield app, issued.secret


def operations(app: FastAPI) -> list[schemathesis.APIOperation]:
    """Every operation of the schema but the event stream, which never ends by design."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=r".*/events$")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(running_app: tuple[FastAPI, str], mode: GenerationMode) -> None:
    app, admin_key = running_app
    headers = {"Authorization": f"Bearer {admin_key}"}
    # Driven per operation with hypothesis directly: schemathesis' pytest plugin does not load on
    # this pytest.
    for operation in operations(app):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=semantic_checks(case))

        try:
            check()
        except Unsatisfiable:
            # An operation with no parameters or body has no invalid request to make.
            assert mode == GenerationMode.NEGATIVE, operation.label
