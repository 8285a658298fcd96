"""Helpers of the HTTP API tests: keys, auth headers, turns, error bodies, and SSE read with timeouts.

Everything that could wait (an event stream, a concurrent request) waits with a deadline, so a broken
server fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.service import RouterService
from app.store.keys import IssuedKey, Role
from app.store.models import Event

CLEAR_TICKET = "How do I reset my password?"
FOLLOW_UP = "The reset link in the email has expired"
REFUND_TICKET = "I want a refund for my broken headphones"
DUPLICATE_CHARGE = "I was charged twice for my subscription this month"
HUMAN_REQUEST = "I want to speak to a human"
# Account-access questions that are each answered whatever order they arrive in.
ACCESS_TICKETS = (
    "How do I reset my password?",
    "How do I enable two-factor authentication?",
    "How do I change my email address?",
    "My account is locked after too many attempts",
    "How do I verify my mobile number?",
)
WAIT = 20.0
"""The longest any single wait in these tests may take, in seconds."""
DURABLE_EVENTS = {"message", "escalated", "status", "review_claimed", "review_resolved"}
LIVE_EVENTS = {"node_started", "node_finished", "answer_chunk"}


def call(client: TestClient, function: Callable[..., Any], *args: Any) -> Any:
    """Run an async function on the app's event loop (the one its store and locks belong to)."""
    assert client.portal is not None, "only inside `with TestClient(...)`"
    return client.portal.call(function, *args)


def service_of(client: TestClient) -> RouterService:
    """The router service the app opened in its lifespan."""
    service: RouterService = client.app.state.service  # type: ignore[attr-defined]
    return service


def issue_key(client: TestClient, role: Role, name: str | None = None) -> IssuedKey:
    """A new key straight from the store (no HTTP request, so no rate limit spent)."""
    issued: IssuedKey = call(client, service_of(client).store.keys.create, role, name or role)
    return issued


def auth(key: IssuedKey | str) -> dict[str, str]:
    """The Authorization header of a key (an issued key, or a raw string for broken ones)."""
    secret = key.secret if isinstance(key, IssuedKey) else key
    return {"Authorization": f"Bearer {secret}"}


def new_conversation(client: TestClient, key: IssuedKey, **body: Any) -> str:
    """Create a conversation as `key`; its id."""
    response = client.post("/v1/conversations", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def post_text(
    client: TestClient, key: IssuedKey, conversation_id: str, text: str, **headers: str
) -> httpx.Response:
    """Post one customer message."""
    return client.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=auth(key) | headers,
    )


def escalate(client: TestClient, key: IssuedKey, text: str = REFUND_TICKET) -> tuple[str, dict[str, Any]]:
    """A new conversation whose first message waits for a person: (its id, the 202 outcome)."""
    conversation_id = new_conversation(client, key, customer_id="c-42")
    response = post_text(client, key, conversation_id, text)
    assert response.status_code == 202, response.text
    outcome: dict[str, Any] = response.json()
    assert outcome["status"] == "waiting_for_human"
    return conversation_id, outcome


def pending_review(client: TestClient, reviewer: IssuedKey, conversation_id: str) -> dict[str, Any]:
    """The one pending review of a conversation, as GET /v1/reviews lists it."""
    response = client.get("/v1/reviews", headers=auth(reviewer))
    assert response.status_code == 200, response.text
    (review,) = [r for r in response.json() if r["conversation_id"] == conversation_id]
    return review  # type: ignore[no-any-return]


def fetch_conversation(client: TestClient, key: IssuedKey, conversation_id: str) -> dict[str, Any]:
    """GET the conversation with its transcript."""
    response = client.get(f"/v1/conversations/{conversation_id}", headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stored_events(client: TestClient, conversation_id: str, after: int = 0) -> list[Event]:
    """The durable events of a conversation, from the store."""
    events: list[Event] = call(client, service_of(client).store.events.after, conversation_id, after)
    return events


def request_hash(conversation_id: str, text: str) -> str:
    """The hash the messages route keeps with an Idempotency-Key (see app/routes/conversations.py)."""
    payload = {"conversation_id": conversation_id, "text": text}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def error_code(status: int) -> str:
    """The `code` of an error body: the status phrase in snake case."""
    return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert the uniform error body {"error": {"status", "code", "message"[, "details"]}}; the error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) <= {"status", "code", "message", "details"}, error
    assert error["status"] == status
    assert error["code"] == error_code(status)
    assert isinstance(error["message"], str) and error["message"]
    if "details" in error:
        assert isinstance(error["details"], list) and error["details"]
    return error


def concurrently(client: TestClient, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    """Send (method, url, httpx keyword arguments) requests all at once, from the app's event loop.

    An ASGI client runs inside the lifespan the TestClient started, so the requests really interleave.
    """

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as async_client:
            sending = (async_client.request(method, url, **kwargs) for method, url, kwargs in requests)
            return list(await asyncio.wait_for(asyncio.gather(*sending), WAIT))

    responses: list[httpx.Response] = call(client, send_all)
    return responses


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


# Server-Sent Events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SSEEvent:
    """One event as it came over the wire."""

    event: str | None
    data: Any
    id: int | None
    raw: tuple[str, ...] = field(default=(), compare=False, repr=False)


def parse_events(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """Events from the lines of a text/event-stream (comments such as `: ping` are skipped)."""
    fields: dict[str, str] = {}
    raw: list[str] = []
    for line in lines:
        if line == "":
            if fields:
                data = fields.get("data")
                yield SSEEvent(
                    event=fields.get("event"),
                    data=json.loads(data) if data is not None else None,
                    id=int(fields["id"]) if "id" in fields else None,
                    raw=tuple(raw),
                )
            fields, raw = {}, []
            continue
        if line.startswith(":"):
            continue
        raw.append(line)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value


class EventStream:
    """An SSE stream read by a background thread; the test waits on it with deadlines and closes it.

    Use as a context manager: entering opens the stream (and fails if no response starts in time),
    leaving closes it, which cancels the server side.
    """

    _END = object()

    def __init__(self, client: TestClient, url: str, headers: dict[str, str], timeout: float = WAIT) -> None:
        self.client, self.url, self.headers, self.timeout = client, url, headers, timeout
        self.status_code: int | None = None
        self.response_headers: httpx.Headers | None = None
        self.body: bytes | None = None
        self.error: BaseException | None = None
        self.seen: list[SSEEvent] = []
        self._response: httpx.Response | None = None
        self._opened = threading.Event()
        self._closing = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._read, name=f"sse {url}", daemon=True)

    def _read(self) -> None:
        try:
            with self.client.stream("GET", self.url, headers=self.headers) as response:
                self._response = response
                self.status_code = response.status_code
                self.response_headers = response.headers
                if response.status_code != 200:
                    self.body = response.read()
                self._opened.set()
                if response.status_code == 200:
                    for event in parse_events(response.iter_lines()):
                        self._queue.put(event)
        except BaseException as error:  # reported to the test thread, which decides
            if not self._closing.is_set():
                self.error = error
        finally:
            self._opened.set()
            self._queue.put(self._END)

    def __enter__(self) -> EventStream:
        self._thread.start()
        if not self._opened.wait(self.timeout):
            self.close()
            raise AssertionError(f"no response to GET {self.url} within {self.timeout}s")
        if self.error is not None:
            raise AssertionError(f"GET {self.url} failed: {self.error!r}") from self.error
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the stream (the server's generator is cancelled) and wait for the reader to stop."""
        self._closing.set()
        if self._response is not None:
            try:
                self._response.close()
            except Exception:  # closing races the reader thread; either way the stream ends
                pass
        self._thread.join(self.timeout)
        assert not self._thread.is_alive(), f"the reader of {self.url} did not stop"

    def wait_for(self, predicate: Callable[[SSEEvent], bool], timeout: float | None = None) -> SSEEvent:
        """The next event that satisfies `predicate` (every event read is kept in `seen`)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(
                    f"no matching event on {self.url} within {timeout or self.timeout}s; saw {self.seen}"
                ) from None
            if item is self._END:
                self._queue.put(item)
                raise AssertionError(f"the stream {self.url} ended ({self.error!r}); saw {self.seen}")
            self.seen.append(item)
            if predicate(item):
                return item  # type: ignore[no-any-return]

    def wait_for_id(self, event_id: int, timeout: float | None = None) -> SSEEvent:
        """Read up to and including the stored event `event_id`."""
        return self.wait_for(lambda e: e.id is not None and e.id >= event_id, timeout)
