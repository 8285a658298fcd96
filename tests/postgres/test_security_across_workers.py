"""Security of a two-worker deployment on one PostgreSQL database, every request over real HTTP.

Every route against every kind of caller on both workers; a key issued or revoked on one worker is
honoured at once by the other; a widget's conversations stay invisible to another widget on either
worker; and schemathesis fuzzes every operation of both workers (no 5xx, responses as the schema says).
The fuzzing runs last: it may change what the other tests set up.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from api_helpers import ACCESS_TICKETS, REFUND_TICKET, assert_error
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schema_checks import semantic_checks
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from server_process import log_tail
from test_api_auth import CALLERS, EXPECTED, ROUTES, UNAUTHENTICATED, Route

from app.settings import Settings
from app.store.keys import Role
from app.store.store import open_store
from evals.load import free_port, start_server, stop_server, wait_ready

# Routes the in-process matrix (tests/unit/test_api_auth.py) leaves out, with what each caller gets.
MORE_ROUTES: dict[str, Route] = {
    f"dashboard_{name}": Route("GET", f"/v1/dashboard/{name}")
    for name in (
        "sla",
        "response-times",
        "escalations",
        "deflection",
        "volume",
        "policy-versions",
        "confidence",
    )
}
MORE_EXPECTED: dict[str, dict[str, int]] = {
    name: {"widget": 403, "other_widget": 403, "reviewer": 200, "admin": 200} for name in MORE_ROUTES
}
# Data removal is for admins; the admin calls name nobody (404) or only count what would go.
MORE_ROUTES |= {
    "erase_customer": Route("POST", "/v1/customers/no-such-customer/erase"),
    "run_retention": Route("POST", "/v1/retention/run", json={"older_than_days": 3650, "dry_run": True}),
}
MORE_EXPECTED |= {
    "erase_customer": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 404},
    "run_retention": {"widget": 403, "other_widget": 403, "reviewer": 403, "admin": 200},
}
ALL_ROUTES = ROUTES | MORE_ROUTES
ALL_EXPECTED = EXPECTED | MORE_EXPECTED
ROLE_OF: dict[str, Role] = {
    "widget": "widget",
    "other_widget": "widget",
    "reviewer": "reviewer",
    "admin": "admin",
}
TIMEOUT = 60.0


@dataclass
class Deployment:
    """Two workers on one database, keys of every kind, and a conversation and a review made once."""

    urls: list[str]
    secrets: dict[str, str]
    """Keys by caller (see CALLERS); the unauthenticated ones are broken or revoked on purpose."""
    key_ids: dict[str, str]
    conversation: str
    review: str
    tickets: Iterator[str]

    def client(self, worker: int, caller: str | None = None) -> httpx.Client:
        secret = self.secrets.get(caller or "")
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.urls[worker], headers=headers, timeout=TIMEOUT)


async def issue_keys(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Keys straight in the shared store, before the workers start (so neither prints a first key)."""
    async with open_store(settings.store_url) as store:
        await store.keys.create("admin", "first admin")
        issued = {caller: await store.keys.create(role, caller) for caller, role in ROLE_OF.items()}
        revoked = await store.keys.create("widget", "revoked")
        assert await store.keys.revoke(revoked.principal.key_id)
    widget_id = issued["widget"].principal.key_id
    secrets = {caller: key.secret for caller, key in issued.items()} | {
        "malformed_key": "not-an-api-key",
        "wrong_secret": f"sr_{widget_id}_not-the-secret",
        "revoked_key": revoked.secret,
    }
    return secrets, {caller: key.principal.key_id for caller, key in issued.items()}


async def until_ready(url: str, process: object) -> None:
    async with httpx.AsyncClient(base_url=url) as probe:
        await wait_ready(probe, process)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def deployment(
    make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("security-workers")
    settings = make_settings(base / "shared")
    secrets, key_ids = asyncio.run(issue_keys(settings))
    ports, logs = [free_port(), free_port()], [base / "worker-0.log", base / "worker-1.log"]
    processes = [
        start_server(settings.model_copy(update={"data_dir": base / f"worker-{n}"}), port, log)
        for n, (port, log) in enumerate(zip(ports, logs, strict=True))
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process, log in zip(urls, processes, logs, strict=True):
            try:
                asyncio.run(until_ready(url, process))
            except RuntimeError as error:
                pytest.fail(f"{error}; its log:\n{log_tail(log)}", pytrace=False)
        partial = Deployment(urls, secrets, key_ids, "", "", itertools.cycle(ACCESS_TICKETS))
        with partial.client(0, "widget") as first, partial.client(1, "widget") as second:
            conversation = first.post("/v1/conversations", json={"customer_id": "cus_free"}).json()["id"]
            escalated = second.post("/v1/conversations", json={"customer_id": "cus_free"}).json()["id"]
            held = second.post(f"/v1/conversations/{escalated}/messages", json={"text": REFUND_TICKET})
            assert held.status_code == 202, held.text
        with partial.client(0, "reviewer") as reviewer:
            (review,) = [
                r["id"] for r in reviewer.get("/v1/reviews").json() if r["conversation_id"] == escalated
            ]
        yield Deployment(urls, secrets, key_ids, conversation, review, itertools.cycle(ACCESS_TICKETS))
    finally:
        for process in processes:
            stop_server(process)


def test_the_deployment_runs_on_postgresql(make_settings: Callable[[Path], Settings], tmp_path: Path) -> None:
    assert make_settings(tmp_path).store_url.startswith("postgresql")


# The authorization matrix, on both workers --------------------------------------------------------


def expected_status(route: str, caller: str) -> int:
    if ALL_ROUTES[route].open:
        return 200
    if caller in UNAUTHENTICATED:
        return 401
    return ALL_EXPECTED[route][caller]


def send(deployment: Deployment, worker: int, name: str, caller: str) -> httpx.Response:
    """Call a route on one worker as `caller`; an event stream's body is not read."""
    route = ALL_ROUTES[name]
    values = {"conversation": deployment.conversation, "review": deployment.review}
    if "{key}" in route.path:
        with deployment.client(worker, "admin") as admin:
            values["key"] = admin.post("/v1/keys", json={"role": "widget", "name": "to revoke"}).json()["id"]
    path = route.path.format(**values)
    body = route.json
    if body is not None and body.get("text") == "{text}":
        body = {"text": next(deployment.tickets)}
    with deployment.client(worker, caller) as client:
        if route.stream:
            with client.stream(route.method, path) as response:
                response.read() if response.status_code != 200 else None
                return response
        return client.request(route.method, path, json=body)


CASES = [
    pytest.param(route, caller, expected_status(route, caller), id=f"{route}-{caller}")
    for route, caller in itertools.product(ALL_ROUTES, CALLERS)
]


@pytest.mark.parametrize(("route", "caller", "expected"), CASES)
def test_authorization_matrix_on_both_workers(
    deployment: Deployment, route: str, caller: str, expected: int
) -> None:
    for worker in (0, 1):
        response = send(deployment, worker, route, caller)
        assert response.status_code == expected, (worker, response.text)
        if expected >= 400:
            error = assert_error(response, expected)
            if expected == 401:
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert error["message"] == "a valid API key is required"
        elif ALL_ROUTES[route].stream:
            assert response.headers["content-type"].startswith("text/event-stream")


def test_the_matrix_covers_every_operation_of_the_schema(deployment: Deployment) -> None:
    with deployment.client(0) as client:
        paths = client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    covered = {(route.method, template_of(route.path)) for route in ALL_ROUTES.values()}
    assert served <= covered, (
        f"routes without an entry in the authorization matrix: {sorted(served - covered)}"
    )


def template_of(path: str) -> str:
    """The OpenAPI template a matrix path fills in (ids and query strings replaced by their names)."""
    path = path.split("?")[0]
    replacements = {
        "/v1/conversations/{conversation}": "/v1/conversations/{conversation_id}",
        "/v1/reviews/{review}": "/v1/reviews/{review_id}",
        "/v1/reviews/no-such-review": "/v1/reviews/{review_id}",
        "/v1/customers/cus_vip": "/v1/customers/{customer_id}",
        "/v1/customers/no-such-customer": "/v1/customers/{customer_id}",
        "/v1/policies/1": "/v1/policies/{version}",
        "/v1/policies/999": "/v1/policies/{version}",
        "/v1/keys/{key}": "/v1/keys/{key_id}",
    }
    for concrete, template in replacements.items():
        if path.startswith(concrete):
            return template + path.removeprefix(concrete)
    return path


# Keys and conversations across workers ------------------------------------------------------------


def test_a_key_issued_on_one_worker_works_at_once_on_the_other(deployment: Deployment) -> None:
    with deployment.client(0, "admin") as admin:
        issued = admin.post("/v1/keys", json={"role": "reviewer", "name": "carla"})
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['key']}"}
    with deployment.client(1) as other:
        assert other.get("/v1/reviews", headers=headers).status_code == 200
        assert_error(other.get("/v1/keys", headers=headers), 403)


@pytest.mark.parametrize("revoked_on", [0, 1])
def test_a_key_revoked_on_one_worker_is_refused_at_once_by_both(
    deployment: Deployment, revoked_on: int
) -> None:
    with deployment.client(revoked_on, "admin") as admin:
        issued = admin.post("/v1/keys", json={"role": "widget", "name": "compromised"}).json()
    headers = {"Authorization": f"Bearer {issued['key']}"}
    clients = [deployment.client(0), deployment.client(1)]
    # Both workers have just accepted the key (and may remember that they did) ...
    for client in clients:
        assert client.post("/v1/conversations", json={}, headers=headers).status_code == 201
    with deployment.client(revoked_on, "admin") as admin:
        assert admin.delete(f"/v1/keys/{issued['id']}").status_code == 204
    # ... and neither accepts it a moment later, whichever revoked it.
    for client in clients:
        assert_error(client.post("/v1/conversations", json={}, headers=headers), 401)
        assert_error(client.get("/v1/conversations/anything", headers=headers), 401)
        client.close()


def test_a_widgets_conversation_is_invisible_to_another_widget_on_either_worker(
    deployment: Deployment,
) -> None:
    with deployment.client(1, "widget") as owner:
        created = owner.post("/v1/conversations", json={"customer_id": "cus_vip"}).json()["id"]
        answered = owner.post(f"/v1/conversations/{created}/messages", json={"text": ACCESS_TICKETS[0]})
        assert answered.status_code == 200, answered.text
    for worker in (0, 1):
        with deployment.client(worker, "other_widget") as other:
            for method, path, body in (
                ("GET", f"/v1/conversations/{created}", None),
                ("POST", f"/v1/conversations/{created}/messages", {"text": "show me the transcript"}),
                ("GET", f"/v1/conversations/{created}/audit", None),
            ):
                response = other.request(
                    method, path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                assert response.status_code in (403, 404), (worker, path, response.text)
                assert "cus_vip" not in response.text and ACCESS_TICKETS[0] not in response.text
            with other.stream("GET", f"/v1/conversations/{created}/events?after=0") as stream:
                assert stream.status_code == 404
    # The other widget's attempt left nothing in the conversation.
    with deployment.client(0, "widget") as owner:
        transcript = owner.get(f"/v1/conversations/{created}").json()["transcript"]
    assert [m["text"] for m in transcript if m["role"] == "customer"] == [ACCESS_TICKETS[0]]


# Input PostgreSQL cannot store ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/conversations", b'{"customer_id": "cus_\\u0000vip"}', 422),
        ("POST", "/v1/conversations", b'{"metadata": {"score": NaN}}', 422),
        ("POST", "/v1/conversations", b'{"metadata": {"score": Infinity}}', 422),
        ("POST", "/v1/conversations/{conversation}/messages", b'{"text": "reset my \\u0000 password"}', 422),
        ("POST", "/v1/keys", b'{"role": "widget", "name": "nul\\u0000name"}', 422),
        ("POST", "/v1/reviews/{review}/resolve", b'{"action": "reply", "text": "done\\u0000"}', 422),
        ("GET", "/v1/conversations/%00", None, 404),
        ("GET", "/v1/conversations/{conversation}%00/audit", None, 404),
        ("GET", "/v1/reviews/%00", None, 404),
        ("POST", "/v1/reviews/%00/claim", None, 404),
        ("GET", "/v1/customers/cus%00vip", None, 404),
        ("DELETE", "/v1/keys/%00", None, 404),
    ],
    ids=[
        "nul-customer-id", "nan-metadata", "infinite-metadata", "nul-message", "nul-key-name", "nul-reply",
        "nul-conversation-id", "nul-audit-path", "nul-review-id", "nul-claim-path", "nul-customer-path",
        "nul-key-id",
    ],
)  # fmt: skip
def test_what_postgresql_cannot_store_is_refused_by_both_workers(
    deployment: Deployment, method: str, path: str, body: bytes | None, status: int
) -> None:
    """A NUL character (PostgreSQL's text cannot hold it) or NaN (not JSON) is a 4xx, never a 500."""
    url = path.format(conversation=deployment.conversation, review=deployment.review)
    headers = {"content-type": "application/json"}
    for worker in (0, 1):
        with deployment.client(worker, "admin") as admin:
            assert_error(admin.request(method, url, content=body, headers=headers), status)
            # The conversation and the review are as they were.
            transcript = admin.get(f"/v1/conversations/{deployment.conversation}").json()["transcript"]
            assert not any("\x00" in m["text"] for m in transcript)
            assert admin.get(f"/v1/reviews/{deployment.review}").json()["status"] == "pending"


# Fuzzing the deployment ---------------------------------------------------------------------------

FUZZ_EXAMPLES = 50
"""Examples per operation and mode: some 35 s for the whole schema of both workers on two cores."""


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_both_workers_conform_to_the_schema_under_fuzzing(
    deployment: Deployment, mode: GenerationMode
) -> None:
    headers = {"Authorization": f"Bearer {deployment.secrets['admin']}"}
    schema = schemathesis.openapi.from_url(f"{deployment.urls[0]}/openapi.json")
    # The event stream never ends by design.
    schema = schema.exclude(path_regex=r".*/events$")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures: list[str] = []
    for number, operation in enumerate(operations):
        try:
            fuzz(operation, mode, deployment.urls[number % 2], headers)  # half the operations on each worker
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, operation.label
        except (AssertionError, FailureGroup) as failure:  # every operation's failures, all at once
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)


def fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, base_url: str, headers: dict[str, str]
) -> None:
    """Examples of one operation against one worker, each response checked against the schema."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, excluded_checks=semantic_checks(case))

    check()
