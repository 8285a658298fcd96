"""The chaos benchmark's widget and audit against scripted workers (httpx mock transports), and its report."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from evals.chaos import Balancer, render_markdown, send, verdict
from evals.load import WidgetRun, audit

Handler = Callable[[httpx.Request], httpx.Response]


def worker(*answers: Handler | type[Exception]) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    """A client whose worker answers each request with the next handler (or fails with the exception)."""
    seen: list[httpx.Request] = []
    script: Iterator[Handler | type[Exception]] = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(script)
        if isinstance(answer, type):
            raise answer("worker down", request=request)
        return answer(request)

    return httpx.AsyncClient(base_url="http://worker", transport=httpx.MockTransport(handle)), seen


def status(code: int, body: dict[str, Any] | None = None, **headers: str) -> Handler:
    return lambda request: httpx.Response(code, json=body or {}, headers=headers)


async def test_a_message_is_sent_again_with_its_key_to_the_other_worker_until_it_is_answered() -> None:
    dead, to_dead = worker(httpx.ConnectError, httpx.ConnectError)
    alive, to_alive = worker(status(409, **{"Retry-After": "0"}), status(200, {"turn": 1}))
    run = WidgetRun(sent={"c1": []})

    final = await send(Balancer([dead, alive]), {}, run, "c1", "hello")

    assert final == 200 and run.sent == {"c1": ["hello"]} and not run.errors
    # Round robin, as a load balancer: dead, alive (409: still running), dead again, alive (the answer).
    assert run.retries == {"ConnectError": 2, "409": 1}
    keys = {request.headers["Idempotency-Key"] for request in [*to_dead, *to_alive]}
    assert len(keys) == 1 and (len(to_dead), len(to_alive)) == (2, 2)  # one request, sent four times
    assert len(run.latencies_ms) == 1


async def test_a_refused_message_is_an_error_and_not_confirmed() -> None:
    alive, _ = worker(status(422, {"error": "bad"}))
    run = WidgetRun(sent={"c1": []})
    assert await send(Balancer([alive]), {}, run, "c1", "hello") == 422
    assert run.sent == {"c1": []} and run.errors and not run.retries


def transcript_client(transcripts: dict[str, list[dict[str, Any]]]) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        conversation = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"transcript": transcripts[conversation]})

    return httpx.AsyncClient(base_url="http://worker", transport=httpx.MockTransport(handle))


def line(role: str, text: str, turn: int, state: str = "sent") -> dict[str, Any]:
    return {"role": role, "text": text, "turn": turn, "state": state}


async def test_the_audit_counts_lost_duplicated_and_unanswered_messages_and_replies_twice() -> None:
    transcripts = {
        "fine": [line("customer", "a", 1, "answered"), line("assistant", "A", 1)],
        "twice": [
            line("customer", "b", 1, "answered"),
            line("assistant", "B", 1),
            line("assistant", "B again", 1),
            line("customer", "b", 2, "answered"),
            line("assistant", "B", 2),
        ],
        "lost": [],
        "pending": [line("customer", "d", 1, "received")],
        "given_up": [line("customer", "e", 1, "answered"), line("assistant", "E", 1)],
    }
    run = WidgetRun(
        sent={"fine": ["a"], "twice": ["b"], "lost": ["c"], "pending": ["d"], "given_up": []},
        unconfirmed={"given_up": ["e"]},
    )
    async with transcript_client(transcripts) as client:
        found = await audit(client, {}, [run])
    # "b" stored twice, confirmed once; "e" stored though never confirmed: accepted, not a duplicate.
    assert found == {"lost": 1, "duplicated": 1, "unanswered": 1, "duplicated_replies": 1}


def test_the_report_shows_the_figures_and_the_verdict() -> None:
    integrity = {"lost": 0, "duplicated": 0, "unanswered": 0, "checkpoint_forks": 0, "keys_in_progress": 2}
    results = {
        "config": {"widgets": 32, "seconds": 60.0, "lease_seconds": 30.0},
        "kill": {"killed_at_s": 30.1, "back_after_s": 9.5},
        "turns": 1200,
        "seconds": 75.2,
        "turns_per_second": 16.0,
        "latency_ms": {"p50": 900.0, "p95": 2000.0, "p99": 29000.0},
        "errors": 0,
        "errors_by_kind": {},
        "retries": 40,
        "retries_by_kind": {"ConnectError": 30, "409": 10},
        "settle_s": 0.5,
        "integrity": integrity,
        "ok": verdict(integrity),
    }
    page = render_markdown(json.loads(json.dumps(results)))
    assert results["ok"]  # keys left in progress break no promise
    assert "| 1200 | 75.2 | 16.0 | 900.0 | 2000.0 | 29000.0 | 0 | 40 |" in page
    assert "| ConnectError | 30 |" in page and "No errors." in page and "**passed**" in page
    assert not verdict(integrity | {"duplicated": 1})
