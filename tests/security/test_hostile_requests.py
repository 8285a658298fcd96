"""Oversized and malformed requests against `support-router serve` over real sockets: each is a 4xx in the
uniform error body, nothing of it is stored, and the server keeps serving everyone else.

The HTTP framing itself (a request uvicorn cannot parse) is answered by uvicorn before the app sees it,
with a plain 400 and a closed connection; that is checked too, but it cannot carry the app's error body.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from api_helpers import ACCESS_TICKETS, CLEAR_TICKET, assert_error
from servers import LiveServer

MAX_BODY = 64 * 1024
"""The server's default body limit (Settings.max_body_bytes)."""
SOCKET_TIMEOUT = 30.0


@pytest.fixture
def conversation(served: LiveServer) -> str:
    with served.client("widget") as widget:
        created = widget.post("/v1/conversations", json={"customer_id": "cus_free"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def customer_lines(served: LiveServer, conversation: str) -> list[str]:
    """What the conversation has stored of the customer's messages."""
    with served.client("widget") as widget:
        view = widget.get(f"/v1/conversations/{conversation}")
    assert view.status_code == 200, view.text
    return [m["text"] for m in view.json()["transcript"] if m["role"] == "customer"]


def connect(served: LiveServer) -> socket.socket:
    address = urlsplit(served.url)
    return socket.create_connection((address.hostname, address.port), timeout=SOCKET_TIMEOUT)


def head(
    served: LiveServer, method: str, path: str, headers: dict[str, str], caller: str = "widget"
) -> bytes:
    """A request line and headers as a client sends them, with the caller's key."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(served.url).netloc}"]
    if caller:
        lines.append(f"Authorization: Bearer {served.keys[caller]}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(served: LiveServer, *parts: bytes) -> httpx.Response:
    """Send raw bytes on a fresh connection, then read one response (the server may close after it)."""
    with connect(served) as sock:
        for part in parts:
            sock.sendall(part)
        parsed = http.client.HTTPResponse(sock)
        parsed.begin()
        body = parsed.read()
        return httpx.Response(parsed.status, headers=parsed.getheaders(), content=body)


def chunked(body: bytes, size: int = 8192) -> bytes:
    """`body` in chunked transfer coding, without the last (zero) chunk."""
    return b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
    )


JSON = {"Content-Type": "application/json"}


# Size ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["widget", ""], ids=["with-key", "without-key"])
def test_a_declared_huge_body_is_refused_before_it_is_sent(
    served: LiveServer, conversation: str, caller: str
) -> None:
    headers = JSON | {"Content-Length": str(50 * 1024 * 1024)}
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", headers, caller)
    error = assert_error(exchange(served, request), 413)
    assert str(MAX_BODY) in error["message"]
    assert customer_lines(served, conversation) == []


def test_a_huge_body_is_refused_once_past_the_limit(served: LiveServer, conversation: str) -> None:
    body = json.dumps({"text": "a" * (2 * MAX_BODY)}).encode()
    headers = JSON | {"Content-Length": str(len(body))}
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", headers)
    assert_error(exchange(served, request, body[: MAX_BODY + 1024]), 413)
    assert customer_lines(served, conversation) == []


def test_a_chunked_body_without_length_is_refused_once_past_the_limit(
    served: LiveServer, conversation: str
) -> None:
    body = json.dumps({"text": "b" * (2 * MAX_BODY)}).encode()
    headers = JSON | {"Transfer-Encoding": "chunked"}
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", headers)
    # Only a little more than the limit is sent: the server answers without waiting for the rest.
    assert_error(exchange(served, request, chunked(body[: MAX_BODY + 8192])), 413)
    assert customer_lines(served, conversation) == []


def test_a_chunked_body_under_the_limit_is_read(served: LiveServer, conversation: str) -> None:
    body = json.dumps({"text": CLEAR_TICKET}).encode()
    headers = JSON | {"Transfer-Encoding": "chunked"}
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", headers)
    answered = exchange(served, request, chunked(body, size=7) + b"0\r\n\r\n")
    assert answered.status_code == 200, answered.text
    assert customer_lines(served, conversation) == [CLEAR_TICKET]


# Content ------------------------------------------------------------------------------------------

NESTED = 30_000
"""Levels of nesting that fit under the size limit and are far past any parser's recursion limit."""
MALFORMED: dict[str, tuple[dict[str, str], bytes, str]] = {
    "text-plain": ({"Content-Type": "text/plain"}, b'{"text": "hello"}', "the request is not valid"),
    "form": (
        {"Content-Type": "application/x-www-form-urlencoded"}, b"text=hello", "the request is not valid",
    ),
    "multipart": (
        {"Content-Type": "multipart/form-data; boundary=x"},
        b'--x\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n--x--\r\n',
        "the request is not valid",
    ),
    "xml": ({"Content-Type": "application/xml"}, b"<text>hello</text>", "the request is not valid"),
    "no-content-type": ({}, b'{"text": "hello"}', "the request is not valid"),
    "invalid-utf-8": (JSON, b'{"text": "caf\xe9 au lait"}', "the request body is not valid JSON"),
    "truncated": (JSON, b'{"text": "half a', "the request is not valid"),
    "empty": (JSON, b"", "the request is not valid"),
    "not-an-object": (JSON, b'["hello"]', "the request is not valid"),
    "null": (JSON, b"null", "the request is not valid"),
    "nested-array": (JSON, b"[" * NESTED + b"]" * NESTED, "the request body is not valid JSON"),
    "nested-in-field": (
        JSON,
        b'{"text": ' + b"[" * NESTED + b"1" + b"]" * NESTED + b"}",
        "the request body is not valid JSON",
    ),
    "lone-surrogate": (JSON, b'{"text": "hello \\ud800"}', "the request is not valid"),
    "nul": (JSON, b'{"text": "hello \\u0000"}', "the request is not valid"),
    "only-white-space": (JSON, b'{"text": " \\t\\u001e\\u00a0 "}', "the request is not valid"),
    "extra-field": (JSON, b'{"text": "hello", "customer_id": "cus_vip"}', "the request is not valid"),
    "wrong-type": (JSON, b'{"text": ["hello"]}', "the request is not valid"),
    "too-long": (JSON, json.dumps({"text": "c" * 4001}).encode(), "the request is not valid"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_message_is_422_and_nothing_is_stored(
    served: LiveServer, conversation: str, case: str
) -> None:
    headers, body, message = MALFORMED[case]
    headers = headers | {"Content-Length": str(len(body)), "Idempotency-Key": f"malformed-{case}"}
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", headers)
    error = assert_error(exchange(served, request, body), 422)
    assert error["message"] == message
    assert customer_lines(served, conversation) == []
    # The server is still serving, and the key the failed request named is free for a real message.
    with served.client("widget") as widget:
        retry = widget.post(
            f"/v1/conversations/{conversation}/messages",
            json={"text": CLEAR_TICKET},
            headers={"Idempotency-Key": f"malformed-{case}"},
        )
    assert retry.status_code == 200, retry.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"metadata": {"score": NaN}}',
        b'{"metadata": {"score": -Infinity}}',
        b'{"metadata": {"nested": {"a": 1}}}',
        b'{"metadata": {"k": "' + b"v" * 100 + b'"}, "customer_id": "' + b"x" * 200 + b'"}',
        b'{"customer_id": "cus_\\u0000vip"}',
        b'{"channel": "carrier-pigeon"}',
    ],
    ids=["nan", "infinity", "nested-metadata", "overlong-customer-id", "nul-customer-id", "unknown-channel"],
)
def test_a_malformed_conversation_is_422_and_none_is_created(served: LiveServer, body: bytes) -> None:
    before = served.rows("conversations")
    with served.client("widget") as widget:
        error = assert_error(widget.post("/v1/conversations", content=body, headers=JSON), 422)
    assert error["details"]
    assert served.rows("conversations") == before


@pytest.mark.parametrize(
    "path", ["/v1/conversations/%00", "/v1/conversations/%ff%fe", "/v1/reviews/%00/claim"]
)
def test_an_id_no_store_could_hold_is_404(served: LiveServer, path: str) -> None:
    with served.client("admin") as admin:
        method = "POST" if path.endswith("/claim") else "GET"
        assert_error(admin.request(method, path), 404)


# Framing and slow clients -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        ({"Content-Length": "12abc"}, b'{"text": "hello"}'),
        ({"Content-Length": "-1"}, b'{"text": "hello"}'),
        ({"Transfer-Encoding": "chunked"}, b'zz\r\n{"text": "hello"}\r\n0\r\n\r\n'),
        ({"Transfer-Encoding": "gzip"}, b'{"text": "hello"}'),
    ],
    ids=["length-not-a-number", "length-negative", "chunk-size-not-hex", "unknown-coding"],
)
def test_broken_framing_is_400_and_the_connection_closed(
    served: LiveServer, conversation: str, framing: dict[str, str], body: bytes
) -> None:
    request = head(served, "POST", f"/v1/conversations/{conversation}/messages", JSON | framing)
    refused = exchange(served, request, body)
    assert refused.status_code in (400, 501) and refused.headers["connection"] == "close", refused.text
    assert customer_lines(served, conversation) == []


def test_a_request_head_over_the_limit_is_400_before_it_ends(served: LiveServer) -> None:
    """Without a bound, a client could make a worker buffer headers until it runs out of memory."""
    with served.client("reviewer") as reviewer:
        assert reviewer.get("/v1/reviews", headers={"X-Padding": "p" * 8 * 1024}).status_code == 200
    # 40 KiB of headers and no end to them: a server that bounds them answers; one that does not waits.
    padding = b"".join(b"X-Padding-%d: %s\r\n" % (n, b"p" * 1000) for n in range(40))
    unfinished = head(served, "GET", "/v1/reviews", {}, "reviewer")[:-2] + padding
    assert exchange(served, unfinished).status_code == 400
    with served.client("reviewer") as reviewer:
        assert reviewer.get("/v1/reviews").status_code == 200


@contextmanager
def stalled_requests(served: LiveServer, conversation: str, count: int) -> Iterator[None]:
    """`count` connections that sent their headers and part of a body, and then nothing more."""
    body = json.dumps({"text": "I will never finish this sentence"}).encode()
    headers = JSON | {"Content-Length": str(len(body))}
    with ExitStack() as stack:
        for number in range(count):
            sock = stack.enter_context(connect(served))
            key = {"Idempotency-Key": f"stalled-{number}"}
            sock.sendall(head(served, "POST", f"/v1/conversations/{conversation}/messages", headers | key))
            sock.sendall(body[: len(body) // 2])
        yield


def test_clients_that_stall_mid_body_hold_up_no_one_and_leave_nothing(
    served: LiveServer, conversation: str
) -> None:
    with stalled_requests(served, conversation, count=40), served.client("widget") as widget:
        started = time.monotonic()
        for text in ACCESS_TICKETS[:2]:  # the same conversation the stalled requests are for
            answered = widget.post(f"/v1/conversations/{conversation}/messages", json={"text": text})
            assert answered.status_code == 200, answered.text
        assert widget.get("/healthz").status_code == 200
        assert time.monotonic() - started < SOCKET_TIMEOUT
    # The stalled requests were cut off when their clients went away: none of them was stored.
    assert customer_lines(served, conversation) == list(ACCESS_TICKETS[:2])
    with served.client("widget") as widget:
        replay_free = widget.post(
            f"/v1/conversations/{conversation}/messages",
            json={"text": ACCESS_TICKETS[2]},
            headers={"Idempotency-Key": "stalled-0"},
        )
    assert replay_free.status_code == 200 and "Idempotent-Replayed" not in replay_free.headers
