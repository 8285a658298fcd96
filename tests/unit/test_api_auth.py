"""Who may call what: every route against every kind of caller, API key administration, first run."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from api_helpers import (
    ACCESS_TICKETS,
    WAIT,
    EventStream,
    assert_error,
    auth,
    call,
    escalate,
    issue_key,
    new_conversation,
    pending_review,
    service_of,
)
from fastapi.testclient import TestClient

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from app.store.keys import IssuedKey

# The authorization matrix --------------------------------------------------------------------

UNAUTHENTICATED = ("no_key", "malformed_key", "wrong_secret", "revoked_key")
AUTHENTICATED = ("widget", "other_widget", "reviewer", "admin")
CALLERS = UNAUTHENTICATED + AUTHENTICATED


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    json: dict[str, Any] | None = None
    open: bool = False
    stream: bool = False


ROUTES: dict[str, Route] = {
    "create_conversation": Route("POST", "/v1/conversations", json={}),
    "get_conversation": Route("GET", "/v1/conversations/{conversation}"),
    "post_message": Route("POST", "/v1/conversations/{conversation}/messages", json={"text": "{text}"}),
    "events": Route("GET", "/v1/conversations/{conversation}/events?after=999999", stream=True),
    "list_reviews": Route("GET", "/v1/reviews"),
    "get_review": Route("GET", "/v1/reviews/{review}"),
    "claim_review": Route("POST", "/v1/reviews/no-such-review/claim"),
    "resolve_review": Route("POST", "/v1/reviews/no-such-review/resolve", json={"action": "close"}),
    "conversation_audit": Route("GET", "/v1/conversations/{conversation}/audit"),
    "get_customer": Route("GET", "/v1/customers/cus_vip"),
    "list_policies": Route("GET", "/v1/policies"),
    "policy_metrics": Route("GET", "/v1/policies/metrics"),
    "get_policy": Route("GET", "/v1/policies/1"),
    "propose_policy": Route("POST", "/v1/policies", json={"document": "rules: [unclosed"}),
    "approve_policy": Route("POST", "/v1/policies/999/approve"),
    "canary_policy": Route("POST", "/v1/policies/999/canary", json={"percent": 10}),
    "promote_policy": Route("POST", "/v1/policies/promote", json={"version": 999}),
    "rollback_policy": Route("POST", "/v1/policies/rollback"),
    "create_key": Route("POST", "/v1/keys", json={"role": "widget", "name": "from the matrix"}),
    "list_keys": Route("GET", "/v1/keys"),
    "revoke_key": Route("DELETE", "/v1/keys/{key}"),
    "healthz": Route("GET", "/healthz", open=True),
    "readyz": Route("GET", "/readyz", open=True),
    "metrics": Route("GET", "/metrics", open=True),
    "openapi": Route("GET", "/openapi.json", open=True),
}

# What each authenticated caller gets; `widget` created the conversation, `other_widget` did not.
# Claim and resolve name an unknown review: 404 shows the caller got past authorization.
EXPECTED: dict[str, dict[str, int]] = {
    "create_conversation": {"widget": 201, "other_widget": 201, "reviewer": 403, "admin": 201},
    "get_conversation": {"widget": 200, "other_widget": 404, "reviewer": 200, "admin": 200},
    "post_message": {"widget": 200, "other_widget": 404, "reviewer": 403, "admin": 200},
    "events": {"widget": 200, "other_widget": 404, "reviewer": 200, "admin": 200},
    "list_reviews": {"widget": 403, "other_widget": 403, "reviewer": 200, "admin": 200},
    "get_review": {"widget": 403, "other_widget": 403, "reviewer": 200, "admin": 200},
    "claim_review": {"widget": 403, "other_widget": 403, "reviewer": 404, "admin": 404},
    "resolve_review": {"widget": 403, "other_widget": 403, "reviewer": 404, "admin": 404},
    "conversation_audit": {"widget": 403, "other_widget": 403, "reviewer": 200, "admin": 200},
    "get_customer": {"widget": 403, "other_widget": 403, "reviewer": 200, "admin": 200},
    # Policies are configuration: reviewers may not touch them. Admin calls name unknown versions
    # (404), an invalid document (422) or a rollback with nothing to go back to (409).
    "list_policies": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 200},
    "policy_metrics": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 200},
    "get_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 200},
    "propose_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 422},
    "approve_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 404},
    "canary_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 404},
    "promote_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 404},
    "rollback_policy": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 409},
    "create_key": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 201},
    "list_keys": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 200},
    "revoke_key": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 204},
}


def expected_status(route: str, caller: str) -> int:
    if ROUTES[route].open:
        return 200
    if caller in UNAUTHENTICATED:
        return 401
    return EXPECTED[route][caller]


CASES = [
    pytest.param(route, caller, expected_status(route, caller), id=f"{route}-{caller}")
    for route, caller in itertools.product(ROUTES, CALLERS)
]


@dataclass
class Matrix:
    """One app for the whole matrix, with a conversation and a review made once."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    keys: dict[str, IssuedKey]
    conversation: str
    review: str
    posts: Iterator[str]


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[[Path], Settings], toolkit: Toolkit
) -> Iterator[Matrix]:
    settings = make_settings(tmp_path_factory.mktemp("auth-matrix") / "data")
    with TestClient(create_app(settings, toolkit)) as client:
        keys = {
            caller: issue_key(client, "widget" if "widget" in caller else caller) for caller in AUTHENTICATED
        }
        revoked = issue_key(client, "widget", "revoked")
        assert call(client, service_of(client).store.keys.revoke, revoked.principal.key_id)
        review_conversation, _ = escalate(client, keys["widget"])
        headers = {
            "no_key": {},
            "malformed_key": auth("not-an-api-key"),
            "wrong_secret": auth(f"sr_{keys['widget'].principal.key_id}_not-the-secret"),
            "revoked_key": auth(revoked),
        } | {caller: auth(key) for caller, key in keys.items()}
        yield Matrix(
            client=client,
            headers=headers,
            keys=keys,
            conversation=new_conversation(client, keys["widget"]),
            review=pending_review(client, keys["reviewer"], review_conversation)["id"],
            posts=itertools.cycle(ACCESS_TICKETS),
        )


def send(matrix: Matrix, name: str, caller: str) -> tuple[int, httpx.Headers, bytes | None]:
    """Call a route as `caller`: (status, headers, body); a 200 event stream is closed unread."""
    route, client = ROUTES[name], matrix.client
    values = {"conversation": matrix.conversation, "review": matrix.review}
    if "{key}" in route.path:
        values["key"] = issue_key(client, "widget", "to revoke").principal.key_id
    path = route.path.format(**values)
    headers = matrix.headers[caller]
    if route.stream:
        with EventStream(client, path, headers) as stream:
            assert stream.status_code is not None and stream.response_headers is not None
            return stream.status_code, stream.response_headers, stream.body
    body = route.json
    if body is not None and body.get("text") == "{text}":
        body = {"text": next(matrix.posts)}
    response = client.request(route.method, path, json=body, headers=headers)
    return response.status_code, response.headers, response.content


@pytest.mark.parametrize(("route", "caller", "expected"), CASES)
def test_authorization_matrix(matrix: Matrix, route: str, caller: str, expected: int) -> None:
    status, headers, body = send(matrix, route, caller)
    assert status == expected, body
    if status >= 400:
        response = httpx.Response(status, headers=headers, content=body or b"")
        error = assert_error(response, status)
        if status == 401:
            assert headers["WWW-Authenticate"] == "Bearer"
            assert error["message"] == "a valid API key is required"
        if status == 403:
            assert "roles" in error["message"]
            assert "www-authenticate" not in headers
    elif ROUTES[route].stream:
        assert headers["content-type"].startswith("text/event-stream")


def test_a_widget_sees_only_its_own_conversations(matrix: Matrix) -> None:
    """The other widget's 404 reads exactly like the one for a conversation that does not exist."""
    client, conversation = matrix.client, matrix.conversation
    hidden = client.get(f"/v1/conversations/{conversation}", headers=matrix.headers["other_widget"])
    missing = client.get("/v1/conversations/no-such-conversation", headers=matrix.headers["other_widget"])
    assert assert_error(hidden, 404)["message"] == f"no conversation {conversation}"
    assert assert_error(missing, 404)["message"] == "no conversation no-such-conversation"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "sr_abc_def"},
        {"X-API-Key": "sr__secret"},
        {"X-API-Key": "sr_id_"},
        {"X-API-Key": "xx_id_secret"},
        {"X-API-Key": ""},
    ],
    ids=["basic", "bearer-alone", "bearer-empty", "no-scheme", "no-id", "no-secret", "wrong-prefix", "empty"],
)
def test_malformed_credentials_are_401(matrix: Matrix, headers: dict[str, str]) -> None:
    response = matrix.client.get("/v1/reviews", headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_bearer_scheme_is_case_insensitive(matrix: Matrix) -> None:
    secret = matrix.keys["reviewer"].secret
    assert matrix.client.get("/v1/reviews", headers={"Authorization": f"bearer {secret}"}).status_code == 200
    assert matrix.client.get("/v1/reviews", headers={"X-API-Key": secret}).status_code == 200


# API keys ------------------------------------------------------------------------------------


def test_an_admin_issues_lists_and_revokes_keys(client: TestClient, admin: IssuedKey) -> None:
    issued = client.post("/v1/keys", json={"role": "reviewer", "name": "carla"}, headers=auth(admin))
    assert issued.status_code == 201, issued.text
    key = issued.json()
    assert set(key) == {"id", "role", "name", "key"}
    assert key["role"] == "reviewer" and key["name"] == "carla"
    assert re.fullmatch(rf"sr_{key['id']}_\S+", key["key"])
    assert client.get("/v1/reviews", headers=auth(key["key"])).status_code == 200
    assert client.get("/v1/keys", headers=auth(key["key"])).status_code == 403

    listed = client.get("/v1/keys", headers=auth(admin))
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()}
    assert set(rows) >= {key["id"], admin.principal.key_id}
    assert all(set(row) == {"id", "role", "name", "created_at", "revoked_at"} for row in rows.values())
    assert rows[key["id"]]["revoked_at"] is None
    assert key["key"] not in listed.text
    created = [row["created_at"] for row in listed.json()]
    assert created == sorted(created, reverse=True)

    revoked = client.delete(f"/v1/keys/{key['id']}", headers=auth(admin))
    assert revoked.status_code == 204 and revoked.content == b""
    assert_error(client.get("/v1/reviews", headers=auth(key["key"])), 401)  # at once
    rows = {row["id"]: row for row in client.get("/v1/keys", headers=auth(admin)).json()}
    assert rows[key["id"]]["revoked_at"] is not None
    assert_error(client.delete(f"/v1/keys/{key['id']}", headers=auth(admin)), 404)
    assert_error(client.delete("/v1/keys/no-such-key", headers=auth(admin)), 404)


@pytest.mark.parametrize(
    "body",
    [{"role": "superuser", "name": "x"}, {"role": "widget", "name": ""}, {"role": "widget"}, {"name": "x"}],
    ids=["unknown-role", "empty-name", "no-name", "no-role"],
)
def test_an_invalid_key_request_is_422(client: TestClient, admin: IssuedKey, body: dict[str, Any]) -> None:
    assert_error(client.post("/v1/keys", json=body, headers=auth(admin)), 422)


def test_a_revoked_admin_key_cannot_revoke_anything(client: TestClient, admin: IssuedKey) -> None:
    other = issue_key(client, "admin", "second admin")
    assert client.delete(f"/v1/keys/{admin.principal.key_id}", headers=auth(other)).status_code == 204
    assert_error(client.delete(f"/v1/keys/{other.principal.key_id}", headers=auth(admin)), 401)
    assert client.get("/v1/keys", headers=auth(other)).status_code == 200


def test_a_revoked_key_stops_working_at_once_in_this_process(
    client: TestClient, admin: IssuedKey, widget: IssuedKey
) -> None:
    assert client.post("/v1/conversations", json={}, headers=auth(widget)).status_code == 201  # now cached
    assert client.delete(f"/v1/keys/{widget.principal.key_id}", headers=auth(admin)).status_code == 204
    assert_error(client.post("/v1/conversations", json={}, headers=auth(widget)), 401)


def test_a_key_revoked_while_a_request_verifies_it_stops_working(
    client: TestClient, admin: IssuedKey, widget: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request reads the key row; the key is revoked; then that request caches what it read.

    The moment between the read and the caching is widened; with a busy store it happens by itself.
    """
    keys = service_of(client).store.keys
    verify_in_store = keys._verify_in_store
    read, release = threading.Event(), threading.Event()

    async def read_then_stall(presented: str) -> Any:
        principal = await verify_in_store(presented)
        if presented == widget.secret and not read.is_set():
            read.set()
            await anyio.to_thread.run_sync(release.wait, WAIT)
        return principal

    monkeypatch.setattr(keys, "_verify_in_store", read_then_stall)
    results: dict[str, httpx.Response] = {}
    first = threading.Thread(
        target=lambda: results.update(first=client.post("/v1/conversations", json={}, headers=auth(widget))),
        daemon=True,
    )
    first.start()
    try:
        assert read.wait(WAIT)
        assert client.delete(f"/v1/keys/{widget.principal.key_id}", headers=auth(admin)).status_code == 204
    finally:
        release.set()
        first.join(WAIT)
    # A revocation that lands while a request is being verified refuses that request too.
    assert_error(results["first"], 401)
    after = client.post("/v1/conversations", json={}, headers=auth(widget))
    assert_error(after, 401)


# First run -----------------------------------------------------------------------------------

ISSUED_KEY = re.compile(r"^\s+(sr_\S+)$", re.MULTILINE)


def test_the_first_start_issues_one_admin_key_and_later_starts_none(
    settings: Settings, toolkit: Toolkit, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(settings, toolkit)) as client:
        store = service_of(client).store
        assert call(client, store.keys.count) == 1
        (row,) = call(client, store.keys.list)
        assert row.role == "admin" and row.revoked_at is None
        printed = ISSUED_KEY.findall(capsys.readouterr().err)
        assert len(printed) == 1 and printed[0].startswith(f"sr_{row.id}_")
        assert client.get("/v1/keys", headers=auth(printed[0])).status_code == 200

    with TestClient(create_app(settings, toolkit)) as client:
        assert call(client, service_of(client).store.keys.count) == 1
        assert ISSUED_KEY.findall(capsys.readouterr().err) == []
        assert client.get("/v1/keys", headers=auth(printed[0])).status_code == 200
