"""Errors and limits: the uniform error body, validation, body size, rate limit, health, metrics, OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_helpers import (
    CLEAR_TICKET,
    EventStream,
    assert_error,
    auth,
    call,
    escalate,
    issue_key,
    new_conversation,
    pending_review,
    post_text,
    request_hash,
    service_of,
)
from fastapi.testclient import TestClient

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from app.store.keys import IssuedKey

# The uniform error body ----------------------------------------------------------------------


def provoke(status: int, client: TestClient, widget: IssuedKey, reviewer: IssuedKey) -> httpx.Response:
    """A request that fails with `status`."""
    if status == 401:
        return client.get("/v1/reviews")
    if status == 403:
        return client.get("/v1/keys", headers=auth(widget))
    if status == 404:
        return client.get("/v1/conversations/nope", headers=auth(widget))
    conversation_id = new_conversation(client, widget)
    if status == 409:
        service = service_of(client)
        key_hash = request_hash(conversation_id, "hi")
        call(client, service.store.idempotency.begin, widget.principal.key_id, "k", key_hash, service.worker)
        return post_text(client, widget, conversation_id, "hi", **{"Idempotency-Key": "k"})
    if status == 413:
        return post_text(client, widget, conversation_id, "x" * (client_settings(client).max_body_bytes + 1))
    if status == 422:
        return post_text(client, widget, conversation_id, "x" * 4001)
    raise AssertionError(status)


def client_settings(client: TestClient) -> Settings:
    return service_of(client).settings


@pytest.mark.parametrize("status", [401, 403, 404, 409, 413, 422])
def test_every_error_has_the_same_body(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, status: int
) -> None:
    assert_error(provoke(status, client, widget, reviewer), status)


def test_unknown_paths_and_methods_get_the_uniform_body(client: TestClient, admin: IssuedKey) -> None:
    assert assert_error(client.get("/v1/nowhere", headers=auth(admin)), 404)["message"] == "Not Found"
    assert_error(client.get("/v1/nowhere"), 401)  # under /v1/ nothing is revealed without a key
    assert assert_error(client.get("/nowhere"), 404)["message"] == "Not Found"
    response = client.put("/v1/keys", headers=auth(admin))
    assert_error(response, 405)
    assert response.headers["allow"]


def test_bad_json_is_422_with_details(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages",
        content=b'{"text": "half a',
        headers=auth(widget) | {"content-type": "application/json"},
    )
    error = assert_error(response, 422)
    assert error["message"] == "the request is not valid"
    assert error["details"] == [{"loc": ["body", "9"], "msg": "JSON decode error"}]


@pytest.mark.parametrize(
    ("body", "location"),
    [({}, ["body", "text"]), ({"text": 42}, ["body", "text"]), ([], ["body"])],
    ids=["missing-text", "not-a-string", "not-an-object"],
)
def test_a_malformed_message_is_422_with_its_location(
    client: TestClient, widget: IssuedKey, body: Any, location: list[str]
) -> None:
    conversation_id = new_conversation(client, widget)
    response = client.post(f"/v1/conversations/{conversation_id}/messages", json=body, headers=auth(widget))
    error = assert_error(response, 422)
    assert location in [d["loc"] for d in error["details"]]
    assert all(set(d) == {"loc", "msg"} for d in error["details"])


def test_unreadable_json_without_a_key_is_401(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages",
        content=b'{"text": ',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 401)


def test_a_bad_body_without_a_key_is_401_when_it_is_valid_json(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    assert_error(client.post(f"/v1/conversations/{conversation_id}/messages", json={}), 401)


def test_text_longer_than_4000_characters_is_422(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    error = assert_error(post_text(client, widget, conversation_id, "a" * 4001), 422)
    assert error["details"][0]["loc"] == ["body", "text"]
    padded = CLEAR_TICKET + " " * (4000 - len(CLEAR_TICKET))
    assert post_text(client, widget, conversation_id, padded).status_code == 200
    long_text = ("I cannot log in to my account. " * 200)[:4000]
    assert post_text(client, widget, conversation_id, long_text).status_code in (200, 202)
    transcript = client.get(f"/v1/conversations/{conversation_id}", headers=auth(widget)).json()["transcript"]
    assert [m["text"] for m in transcript if m["role"] == "customer"] == [CLEAR_TICKET, long_text.strip()]


# Body size -----------------------------------------------------------------------------------


def oversized_body(settings: Settings) -> bytes:
    return b'{"text": "' + b"a" * settings.max_body_bytes + b'"}'


def test_a_body_over_the_limit_with_content_length_is_413(
    client: TestClient, widget: IssuedKey, settings: Settings
) -> None:
    conversation_id = new_conversation(client, widget)
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages",
        content=oversized_body(settings),
        headers=auth(widget) | {"content-type": "application/json"},
    )
    error = assert_error(response, 413)
    assert str(settings.max_body_bytes) in error["message"]
    assert client.get(f"/v1/conversations/{conversation_id}", headers=auth(widget)).json()["transcript"] == []


def test_a_declared_size_over_the_limit_is_refused_before_auth(
    client: TestClient, settings: Settings
) -> None:
    response = client.post("/v1/conversations", content=oversized_body(settings))
    assert_error(response, 413)


def test_a_body_at_the_limit_is_read(client: TestClient, widget: IssuedKey, settings: Settings) -> None:
    conversation_id = new_conversation(client, widget)
    text = "a" * (settings.max_body_bytes - len(b'{"text": ""}'))
    body = b'{"text": "' + text.encode() + b'"}'
    assert len(body) == settings.max_body_bytes
    response = client.post(
        f"/v1/conversations/{conversation_id}/messages",
        content=body,
        headers=auth(widget) | {"content-type": "application/json"},
    )
    assert_error(response, 422)  # past the size check, refused by the 4000-character limit


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_over_the_limit_is_413(
    client: TestClient, widget: IssuedKey, settings: Settings
) -> None:
    conversation_id = new_conversation(client, widget)
    request = client.build_request(
        "POST",
        f"/v1/conversations/{conversation_id}/messages",
        content=chunks(oversized_body(settings)),
        headers=auth(widget) | {"content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    response = client.send(request)
    assert_error(response, 413)


def test_a_chunked_body_under_the_limit_is_read(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    request = client.build_request(
        "POST",
        f"/v1/conversations/{conversation_id}/messages",
        content=chunks(b'{"text": "%s"}' % CLEAR_TICKET.encode(), size=8),
        headers=auth(widget) | {"content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    response = client.send(request)
    assert response.status_code == 200, response.text


# Rate limit ----------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings, toolkit: Toolkit) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"rate_limit": "3/minute"}), toolkit)) as client:
        yield client


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(limited: TestClient) -> None:
    widget, other = issue_key(limited, "widget"), issue_key(limited, "widget", "other")
    conversation_id = new_conversation(limited, widget)
    for _ in range(2):
        assert limited.get(f"/v1/conversations/{conversation_id}", headers=auth(widget)).status_code == 200
    refused = limited.get(f"/v1/conversations/{conversation_id}", headers=auth(widget))
    error = assert_error(refused, 429)
    assert error["message"] == "too many requests for this key"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert_error(limited.post("/v1/conversations", json={}, headers=auth(widget)), 429)

    # Per key: another key still has its budget; open routes have no limit.
    assert limited.post("/v1/conversations", json={}, headers=auth(other)).status_code == 201
    for _ in range(5):
        assert limited.get("/healthz").status_code == 200
    assert 'support_router_rejected_requests_total{reason="rate_limited"} 2.0' in limited.get("/metrics").text


def test_refused_requests_do_not_spend_the_budget(limited: TestClient) -> None:
    widget = issue_key(limited, "widget")
    for _ in range(3):
        assert_error(limited.get("/v1/keys", headers=auth(widget)), 403)
        assert_error(limited.get("/v1/keys", headers=auth(widget.secret + "x")), 401)
    for _ in range(3):
        assert limited.post("/v1/conversations", json={}, headers=auth(widget)).status_code == 201
    assert_error(limited.post("/v1/conversations", json={}, headers=auth(widget)), 429)


# Unknown ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/conversations/missing", None),
        ("POST", "/v1/conversations/missing/messages", {"text": "hello"}),
        ("GET", "/v1/conversations/missing/events", None),
        ("GET", "/v1/reviews/missing", None),
        ("POST", "/v1/reviews/missing/claim", None),
        ("POST", "/v1/reviews/missing/resolve", {"action": "close"}),
        ("DELETE", "/v1/keys/missing", None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_unknown_ids_are_404(client: TestClient, admin: IssuedKey, method: str, path: str, body: Any) -> None:
    if path.endswith("/events"):
        with EventStream(client, path, auth(admin)) as stream:
            assert stream.status_code == 404
            response = httpx.Response(404, headers=stream.response_headers, content=stream.body or b"")
    else:
        response = client.request(method, path, json=body, headers=auth(admin))
    assert "missing" in assert_error(response, 404)["message"]


# Health, readiness, metrics, OpenAPI ---------------------------------------------------------


def test_healthz_reports_the_models(client: TestClient, toolkit: Toolkit) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "triage_model": toolkit.classifier.version,
        "embedding_model": toolkit.embedder.model_id,
    }


def test_readyz_checks_every_dependency(client: TestClient, settings: Settings) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    checks = {"checkpointer": "ok", "store": "ok", "knowledge_index": "ok", "policy": "ok"}
    if settings.database_url is None:  # the embedded SQLite default also needs room on its data dir
        checks["disk"] = "ok"
    assert response.json() == {"status": "ok", "checks": checks}


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_metrics_count_turns_nodes_and_the_review_queue(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    assert post_text(client, widget, conversation_id, CLEAR_TICKET).status_code == 200
    escalated, _ = escalate(client, widget)

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, 'support_router_turns_total{status="answered"}') == 1
    assert metric(text, 'support_router_turns_total{status="waiting_for_human"}') == 1
    assert 'support_router_node_seconds_bucket{le="+Inf",node="triage"}' in text
    assert metric(text, 'support_router_node_seconds_count{node="access"}') == 1
    assert metric(text, "support_router_turn_seconds_count") == 2
    assert metric(text, 'support_router_escalations_total{reason="refund_request"}') == 1
    assert metric(text, "support_router_review_queue_depth") == 1

    review = pending_review(client, reviewer, escalated)
    resolved = client.post(
        f"/v1/reviews/{review['id']}/resolve", json={"action": "approve"}, headers=auth(reviewer)
    )
    assert resolved.status_code == 200, resolved.text
    assert metric(client.get("/metrics").text, "support_router_review_queue_depth") == 0


def test_the_review_queue_gauge_starts_from_the_store(settings: Settings, toolkit: Toolkit) -> None:
    with TestClient(create_app(settings, toolkit)) as first:
        escalate(first, issue_key(first, "widget"))
    with TestClient(create_app(settings, toolkit)) as second:
        assert metric(second.get("/metrics").text, "support_router_review_queue_depth") == 1


def test_openapi_describes_every_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "support-router" and spec["info"]["version"] == "0.1.0"
    assert set(spec["paths"]) == {
        "/v1/conversations",
        "/v1/conversations/{conversation_id}/messages",
        "/v1/conversations/{conversation_id}",
        "/v1/conversations/{conversation_id}/events",
        "/v1/reviews",
        "/v1/reviews/{review_id}",
        "/v1/reviews/{review_id}/claim",
        "/v1/reviews/{review_id}/resolve",
        "/v1/conversations/{conversation_id}/audit",
        "/v1/customers/{customer_id}",
        "/v1/customers/{customer_id}/erase",
        "/v1/retention/run",
        "/v1/policies",
        "/v1/policies/metrics",
        "/v1/policies/{version}",
        "/v1/policies/{version}/approve",
        "/v1/policies/{version}/canary",
        "/v1/policies/promote",
        "/v1/policies/rollback",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/dashboard/sla",
        "/v1/dashboard/response-times",
        "/v1/dashboard/escalations",
        "/v1/dashboard/deflection",
        "/v1/dashboard/volume",
        "/v1/dashboard/policy-versions",
        "/v1/dashboard/confidence",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    messages = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]
    assert {"200", "202", "401", "403", "404", "409", "413", "422", "429"} <= set(messages["responses"])
    assert "ErrorBody" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
