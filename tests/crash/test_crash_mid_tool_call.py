"""LLM mode on two PostgreSQL workers: the worker carrying out an approved refund is killed mid-action.

The specialist (scripted by the fake OpenAI-compatible endpoint) proposes a refund, a reviewer
approves it on worker A, and A is killed while it executes the refund: either waiting for the
order's payment rows (nothing committed yet), or after the refund committed but before the
conversation's checkpoint. Worker B finishes the resolution with the stored decision, and the refund
is executed exactly once: one executed action, one refund, the order's payment refunded once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crash_helpers import (
    Pair,
    blocked_by,
    cut_off,
    eventually,
    forks,
    holding,
    post,
    query,
    running_pair,
)
from fake_llm import FakeLLM, json_reply

from app.settings import Settings


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def pair(
    postgres: Callable[[], str], base_settings: Settings, module_dir: Path, llm: FakeLLM
) -> Iterator[Pair]:
    env = {
        "SUPPORT_ROUTER_LLM_MODEL": "fake",
        "SUPPORT_ROUTER_LLM_BASE_URL": llm.base_url,
        "SUPPORT_ROUTER_LLM_API_KEY": "not-needed",
        "SUPPORT_ROUTER_LLM_STRUCTURED_METHOD": "json_mode",
        "SUPPORT_ROUTER_LLM_TOOL_CALLING": "planned",
    }
    settings = base_settings.model_copy(update={"database_url": postgres()})
    with running_pair(settings, module_dir, env) as pair:
        yield pair


@pytest.fixture
def killed_a(pair: Pair) -> Iterator[Pair]:
    yield pair
    pair.restart_a_if_dead()


async def proposed_refund(pair: Pair, llm: FakeLLM, order_id: str, cents: int) -> tuple[str, str]:
    """A conversation (on B) whose specialist proposed refunding `order_id`: (its id, the review id)."""
    llm.push(
        json_reply(
            {
                "calls": [
                    {"tool": "refund_eligibility", "arguments": {"order_id": order_id}},
                    {
                        "tool": "issue_refund",
                        "arguments": {
                            "order_id": order_id,
                            "amount_cents": cents,
                            "reason": "arrived broken",
                        },
                    },
                ]
            }
        ),
        json_reply({"answer": "A colleague will confirm your refund shortly.", "articles": []}),
    )
    conversation_id = await pair.conversation(pair.b)
    text = f"The item of order {order_id} arrived broken, I want my money back"
    async with pair.widget(pair.b) as client:
        waiting = await post(client, conversation_id, text, uuid.uuid4().hex)
    assert waiting.status_code == 202, waiting.text
    async with pair.reviewer(pair.b) as reviewer:
        reviews = (await reviewer.get("/v1/reviews")).json()
    (review,) = [r for r in reviews if r["conversation_id"] == conversation_id]
    assert review["handoff"]["proposed_action"] is not None, review["handoff"]["tool_uses"]
    return conversation_id, review["id"]


def refunds(database_url: str, order_id: str, conversation_id: str) -> tuple[int, int, int]:
    """(executed actions of the conversation, refunds of the order, cents refunded from its payments)."""
    ((actions,),) = query(
        database_url,
        "SELECT count(*) FROM executed_actions WHERE idempotency_key LIKE %s",
        f"{conversation_id}:%",
    )
    ((refund_rows,),) = query(database_url, "SELECT count(*) FROM refunds WHERE order_id = %s", order_id)
    ((refunded,),) = query(
        database_url, "SELECT coalesce(sum(refunded_cents), 0) FROM payments WHERE order_id = %s", order_id
    )
    return int(actions), int(refund_rows), int(refunded)


async def resolution_finished(pair: Pair, review_id: str) -> None:
    async def resolved() -> bool:
        return query(pair.database_url, "SELECT status FROM reviews WHERE id = %s", review_id) == [
            ("resolved",)
        ]

    await eventually(resolved, "worker B to finish the approved resolution")


async def test_killed_before_the_refund_committed_the_other_worker_executes_it_once(
    killed_a: Pair, llm: FakeLLM
) -> None:
    pair, order_id = killed_a, "ord_free_1001"
    conversation_id, review_id = await proposed_refund(pair, llm, order_id, 5990)
    payments = "SELECT * FROM payments WHERE order_id = %s FOR UPDATE"
    with holding(pair.database_url, payments, order_id) as lock:
        async with pair.reviewer(pair.a) as reviewer:
            url = f"/v1/reviews/{review_id}/resolve"
            request = asyncio.create_task(reviewer.post(url, json={"action": "approve"}))
            await eventually(
                lambda: asyncio.to_thread(blocked_by, pair.database_url, lock, "payments"),
                "worker A to wait for the order's payments while executing the refund",
            )
            pair.a.kill()
            await cut_off(request)
    assert refunds(pair.database_url, order_id, conversation_id) == (0, 0, 0)  # nothing committed

    await resolution_finished(pair, review_id)
    assert refunds(pair.database_url, order_id, conversation_id) == (1, 1, 5990)
    await pair.a.restart()  # and nothing is executed again when A comes back
    assert refunds(pair.database_url, order_id, conversation_id) == (1, 1, 5990)
    assert forks(pair.database_url, conversation_id) == []


async def test_killed_after_the_refund_committed_the_refund_is_not_executed_again(
    killed_a: Pair, llm: FakeLLM
) -> None:
    pair, order_id = killed_a, "ord_free_1002"
    conversation_id, review_id = await proposed_refund(pair, llm, order_id, 1490)
    payments = "SELECT * FROM payments WHERE order_id = %s FOR UPDATE"
    lease = "SELECT * FROM conversation_leases WHERE conversation_id = %s FOR UPDATE"
    with holding(pair.database_url, payments, order_id) as payment_lock:
        async with pair.reviewer(pair.a) as reviewer:
            url = f"/v1/reviews/{review_id}/resolve"
            request = asyncio.create_task(reviewer.post(url, json={"action": "approve"}))
            await eventually(
                lambda: asyncio.to_thread(blocked_by, pair.database_url, payment_lock, "payments"),
                "worker A to wait for the order's payments while executing the refund",
            )
            # Hold the lease row too, then let the refund through: the checkpoint after it needs the row.
            with holding(pair.database_url, lease, conversation_id) as lease_lock:
                payment_lock.rollback()

                async def executed() -> bool:
                    return refunds(pair.database_url, order_id, conversation_id)[0] == 1

                await eventually(executed, "the refund to commit")
                await eventually(
                    lambda: asyncio.to_thread(
                        blocked_by,
                        pair.database_url,
                        lease_lock,
                        "SELECT token, expires_at FROM conversation_leases",
                    ),
                    "worker A to wait for the lease row to save the checkpoint after the refund",
                )
                pair.a.kill()
                await cut_off(request)
    assert refunds(pair.database_url, order_id, conversation_id) == (1, 1, 1490)

    await resolution_finished(pair, review_id)  # B runs the approval again: the refund is found, not redone
    assert refunds(pair.database_url, order_id, conversation_id) == (1, 1, 1490)
    ((response,),) = query(
        pair.database_url,
        "SELECT text FROM messages WHERE conversation_id = %s AND author IS NOT NULL",
        conversation_id,
    )
    ((reference,),) = query(
        pair.database_url,
        "SELECT reference FROM executed_actions WHERE idempotency_key LIKE %s",
        f"{conversation_id}:%",
    )
    assert reference in response  # the customer is told of the one refund made
    assert forks(pair.database_url, conversation_id) == []
