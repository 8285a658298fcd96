"""Conversations over HTTP: a widget's whole conversation, Idempotency-Key, and concurrent messages."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import TaskStatus
from api_helpers import (
    ACCESS_TICKETS,
    CLEAR_TICKET,
    FOLLOW_UP,
    REFUND_TICKET,
    WAIT,
    assert_error,
    auth,
    call,
    concurrently,
    escalate,
    fetch_conversation,
    new_conversation,
    pending_review,
    post_text,
    request_hash,
    service_of,
    wait_until,
)
from fastapi.testclient import TestClient

from agents.toolkit import Toolkit
from app.store.keys import IssuedKey
from graph.outcome import TurnOutcome

# A whole conversation ------------------------------------------------------------------------


def test_a_widget_conversation_from_start_to_transcript(
    client: TestClient, widget: IssuedKey, toolkit: Toolkit
) -> None:
    created = client.post(
        "/v1/conversations",
        json={"customer_id": "c-7", "channel": "web", "metadata": {"plan": "premium", "age": 3}},
        headers=auth(widget),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "customer_id", "channel", "status", "created_at"}
    assert body["customer_id"] == "c-7" and body["channel"] == "web" and body["status"] == "active"
    conversation_id = body["id"]

    first = post_text(client, widget, conversation_id, CLEAR_TICKET)
    assert first.status_code == 200, first.text
    outcome = TurnOutcome.model_validate(first.json())
    assert outcome.conversation_id == conversation_id
    assert outcome.turn == 1 and not outcome.follow_up
    assert outcome.status == "answered" and not outcome.escalated
    assert outcome.category == "account_access" and outcome.specialist == "access"
    assert outcome.citations
    for citation in outcome.citations:
        assert citation["url"] in outcome.response
    assert outcome.versions["triage_model"] == toolkit.classifier.version
    assert outcome.versions["embedding_model"] == toolkit.embedder.model_id

    second = post_text(client, widget, conversation_id, FOLLOW_UP)
    assert second.status_code == 200, second.text
    follow_up = TurnOutcome.model_validate(second.json())
    assert follow_up.turn == 2 and follow_up.follow_up
    assert follow_up.status == "answered" and follow_up.specialist == "access"

    view = fetch_conversation(client, widget, conversation_id)
    assert view["id"] == conversation_id
    assert view["customer_id"] == "c-7" and view["channel"] == "web"
    assert view["metadata"] == {"plan": "premium", "age": 3}
    assert view["status"] == "active" and view["owner"] == "access" and view["turns"] == 2
    transcript = view["transcript"]
    assert [m["role"] for m in transcript] == ["customer", "assistant", "customer", "assistant"]
    assert [m["turn"] for m in transcript] == [1, 1, 2, 2]
    assert [m["text"] for m in transcript] == [
        CLEAR_TICKET,
        outcome.response,
        FOLLOW_UP,
        follow_up.response,
    ]
    assert [m["state"] for m in transcript] == ["answered", "sent", "answered", "sent"]
    assert all(m["author"] is None for m in transcript)
    assert [m["id"] for m in transcript] == sorted(m["id"] for m in transcript)
    assert view["outcomes"] == [first.json(), second.json()]


def test_an_admin_may_read_and_post_to_a_widget_conversation(
    client: TestClient, widget: IssuedKey, admin: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    response = post_text(client, admin, conversation_id, CLEAR_TICKET)
    assert response.status_code == 200, response.text
    assert fetch_conversation(client, admin, conversation_id)["turns"] == 1


def test_the_x_api_key_header_works_like_bearer(client: TestClient, widget: IssuedKey) -> None:
    response = client.post("/v1/conversations", json={}, headers={"X-API-Key": widget.secret})
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "chat" and response.json()["customer_id"] is None


def test_an_empty_conversation_has_an_empty_transcript(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    view = fetch_conversation(client, widget, conversation_id)
    assert view["transcript"] == [] and view["outcomes"] == []
    assert view["status"] == "active" and view["owner"] is None and view["turns"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "fax"},
        {"customer_id": "c" * 129},
        {"metadata": {"k" * 65: "v"}},
        {"metadata": {f"k{i}": i for i in range(33)}},
        {"metadata": {"nested": {"a": 1}}},
    ],
    ids=["channel", "customer-id-length", "metadata-key-length", "metadata-size", "metadata-nested"],
)
def test_an_invalid_conversation_is_422(client: TestClient, widget: IssuedKey, body: dict[str, Any]) -> None:
    error = assert_error(client.post("/v1/conversations", json=body, headers=auth(widget)), 422)
    assert error["details"]


@pytest.mark.parametrize("text", ["", "   \n\t"], ids=["empty", "blank"])
def test_an_empty_message_is_422(client: TestClient, widget: IssuedKey, text: str) -> None:
    conversation_id = new_conversation(client, widget)
    assert_error(post_text(client, widget, conversation_id, text), 422)
    assert fetch_conversation(client, widget, conversation_id)["transcript"] == []


def test_a_message_to_an_unknown_conversation_is_404(client: TestClient, widget: IssuedKey) -> None:
    error = assert_error(post_text(client, widget, "no-such-conversation", CLEAR_TICKET), 404)
    assert "no-such-conversation" in error["message"]
    assert_error(client.get("/v1/conversations/no-such-conversation", headers=auth(widget)), 404)


def test_a_closed_conversation_reopens_on_the_next_message(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey
) -> None:
    conversation_id, _ = escalate(client, widget)
    review = pending_review(client, reviewer, conversation_id)
    closed = client.post(
        f"/v1/reviews/{review['id']}/resolve", json={"action": "close"}, headers=auth(reviewer)
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert fetch_conversation(client, widget, conversation_id)["status"] == "closed"

    reopened = post_text(client, widget, conversation_id, CLEAR_TICKET)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["turn"] == 2 and reopened.json()["status"] == "answered"
    assert fetch_conversation(client, widget, conversation_id)["status"] == "active"


# Idempotency-Key -----------------------------------------------------------------------------


def customer_messages(client: TestClient, key: IssuedKey, conversation_id: str) -> list[dict[str, Any]]:
    transcript = fetch_conversation(client, key, conversation_id)["transcript"]
    return [m for m in transcript if m["role"] == "customer"]


def test_a_retry_with_the_same_key_replays_the_first_response(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    first = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers

    again = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "retry-1"})
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()

    assert [m["text"] for m in customer_messages(client, widget, conversation_id)] == [CLEAR_TICKET]
    assert fetch_conversation(client, widget, conversation_id)["turns"] == 1


def test_a_replayed_handoff_keeps_its_202_and_adds_nothing(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    first = post_text(client, widget, conversation_id, REFUND_TICKET, **{"Idempotency-Key": "handoff"})
    assert first.status_code == 202, first.text
    again = post_text(client, widget, conversation_id, REFUND_TICKET, **{"Idempotency-Key": "handoff"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert pending_review(client, reviewer, conversation_id)["waiting_messages"] == []
    assert len(customer_messages(client, widget, conversation_id)) == 1


def test_the_same_key_with_another_body_is_422(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    first = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k"})
    assert first.status_code == 200, first.text
    other_text = post_text(client, widget, conversation_id, FOLLOW_UP, **{"Idempotency-Key": "k"})
    assert "Idempotency-Key" in assert_error(other_text, 422)["message"]
    other_conversation = new_conversation(client, widget)
    assert_error(post_text(client, widget, other_conversation, CLEAR_TICKET, **{"Idempotency-Key": "k"}), 422)
    assert len(customer_messages(client, widget, conversation_id)) == 1
    assert customer_messages(client, widget, other_conversation) == []


def test_different_keys_are_different_turns(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    first = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "a"})
    second = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "b"})
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert "idempotent-replayed" not in second.headers
    assert [first.json()["turn"], second.json()["turn"]] == [1, 2]
    assert len(customer_messages(client, widget, conversation_id)) == 2


def test_keys_belong_to_the_api_key_that_used_them(
    client: TestClient, widget: IssuedKey, admin: IssuedKey
) -> None:
    conversation_id = new_conversation(client, widget)
    mine = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "shared"})
    theirs = post_text(client, admin, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "shared"})
    assert (mine.status_code, theirs.status_code) == (200, 200), theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["turn"] == 2


def test_the_same_key_while_the_first_request_runs_is_409(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    service = service_of(client)
    claim = call(
        client,
        service.store.idempotency.begin,
        widget.principal.key_id,
        "busy",
        request_hash(conversation_id, CLEAR_TICKET),
        service.worker,
    )
    assert claim.outcome == "new"  # what the first request did before it started its turn

    response = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "busy"})
    assert_error(response, 409)
    assert response.headers["Retry-After"] == "1"
    assert customer_messages(client, widget, conversation_id) == []


def test_a_retry_during_a_turn_waiting_for_the_lock_is_409_then_replays(
    client: TestClient, widget: IssuedKey
) -> None:
    """A real in-flight request: the first waits on the conversation lock that the test holds."""
    conversation_id = new_conversation(client, widget)
    service = service_of(client)
    with holding_lock(client, conversation_id):
        results: dict[str, httpx.Response] = {}
        first = threading.Thread(
            target=lambda: results.update(
                first=post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "slow"})
            ),
            daemon=True,
        )
        first.start()
        wait_until(lambda: service.locks.waiting(conversation_id) == 2, "the first request to queue")
        assert_error(
            post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "slow"}), 409
        )
    first.join(WAIT)
    assert not first.is_alive() and results["first"].status_code == 200, results
    replay = post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "slow"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == results["first"].json()


def test_a_failed_request_frees_its_key(client: TestClient, widget: IssuedKey) -> None:
    # Past validation, so the key was taken before the service refused the request.
    for _ in range(2):
        response = post_text(client, widget, "no-such-conversation", CLEAR_TICKET, **{"Idempotency-Key": "k"})
        assert_error(response, 404)


def test_an_overlong_idempotency_key_is_422(client: TestClient, widget: IssuedKey) -> None:
    conversation_id = new_conversation(client, widget)
    assert_error(
        post_text(client, widget, conversation_id, CLEAR_TICKET, **{"Idempotency-Key": "k" * 201}), 422
    )


# Concurrent messages -------------------------------------------------------------------------


class holding_lock:  # noqa: N801 - used like a function
    """Hold a conversation's lock on the app's loop, as a long turn would, until the block ends."""

    def __init__(self, client: TestClient, conversation_id: str) -> None:
        self.client, self.conversation_id = client, conversation_id

    def __enter__(self) -> None:
        assert self.client.portal is not None
        self.release = self.client.portal.call(anyio.Event)
        locks = service_of(self.client).locks

        async def hold(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with locks.hold(self.conversation_id):
                task_status.started()
                with anyio.fail_after(WAIT):
                    await self.release.wait()

        self.task, _ = self.client.portal.start_task(hold)

    def __exit__(self, *_: object) -> None:
        assert self.client.portal is not None
        self.client.portal.call(self.release.set)
        self.task.result(WAIT)


def assert_nothing_lost(
    client: TestClient,
    widget: IssuedKey,
    conversation_id: str,
    texts: list[str],
    responses: list[httpx.Response],
) -> None:
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    turns = sorted(r.json()["turn"] for r in responses)
    assert turns == list(range(1, len(texts) + 1))
    view = fetch_conversation(client, widget, conversation_id)
    assert view["turns"] == len(texts) and view["status"] == "active"
    customers = [m for m in view["transcript"] if m["role"] == "customer"]
    assert sorted(m["text"] for m in customers) == sorted(texts)
    assert [m["turn"] for m in customers] == list(range(1, len(texts) + 1))
    assert all(m["state"] == "answered" for m in customers)
    answers = {m["turn"]: m for m in view["transcript"] if m["role"] == "assistant"}
    assert sorted(answers) == turns
    by_turn = {r.json()["turn"]: r.json() for r in responses}
    for message in customers:
        assert answers[message["turn"]]["text"] == by_turn[message["turn"]]["response"]
    # Each response answers the message that was posted with it.
    posted = {m["turn"]: m["text"] for m in customers}
    for text, response in zip(texts, responses, strict=True):
        assert posted[response.json()["turn"]] == text
    assert len(view["outcomes"]) == len(texts)


@pytest.mark.parametrize("count", [2, 5])
def test_concurrent_messages_to_one_conversation_are_all_answered_in_turn(
    client: TestClient, widget: IssuedKey, count: int
) -> None:
    conversation_id = new_conversation(client, widget)
    texts = list(ACCESS_TICKETS[:count])

    url = f"/v1/conversations/{conversation_id}/messages"
    responses = concurrently(
        client, *(("POST", url, {"json": {"text": t}, "headers": auth(widget)}) for t in texts)
    )
    assert_nothing_lost(client, widget, conversation_id, texts, responses)


def test_messages_queued_behind_a_running_turn_are_all_answered(
    client: TestClient, widget: IssuedKey
) -> None:
    """Five threads post while a turn holds the conversation: all wait, then run one at a time."""
    conversation_id = new_conversation(client, widget)
    texts = list(ACCESS_TICKETS)
    responses: list[httpx.Response | None] = [None] * len(texts)
    service = service_of(client)

    def post(index: int) -> None:
        responses[index] = post_text(client, widget, conversation_id, texts[index])

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(len(texts))]
    with holding_lock(client, conversation_id):
        for thread in threads:
            thread.start()
        wait_until(lambda: service.locks.waiting(conversation_id) == len(texts) + 1, "every message to queue")
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    done = [r for r in responses if r is not None]
    assert len(done) == len(texts)
    assert_nothing_lost(client, widget, conversation_id, texts, done)
    assert conversation_id not in service.locks.local._users  # the lock is dropped once nobody waits
