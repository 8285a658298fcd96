"""Helpers of the retention and erasure tests: conversations seeded through the API with personal
markers in every place a conversation keeps text, and scans of the store, the checkpoints and the audit
log for what is left of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api_helpers import (
    CLEAR_TICKET,
    DUPLICATE_CHARGE,
    REFUND_TICKET,
    auth,
    call,
    new_conversation,
    pending_review,
    post_text,
    service_of,
)
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.data_removal import checkpointer_of
from app.store.keys import IssuedKey
from app.store.models import AuditRecord, Conversation, Event, Message, Review
from app.turns import thread_config

TARGET = "cus_free"
"""The customer whose data goes (a demo customer: they have business records too)."""
OTHER = "cus_vip"
"""A customer whose data must stay."""
DASHBOARD = ("sla", "response-times", "escalations", "deflection", "volume", "policy-versions", "confidence")


@dataclass(frozen=True)
class Seeded:
    """One customer's conversations, each holding personal markers; `markers` lists them all."""

    answered: str
    """Answered by a specialist, no person involved."""
    resolved: str
    """Escalated, claimed and answered by a reviewer."""
    waiting: str
    """Escalated and still waiting for a person, with a message held for them."""
    markers: tuple[str, ...]

    @property
    def conversations(self) -> tuple[str, str, str]:
        return self.answered, self.resolved, self.waiting


def seed_customer(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, customer_id: str, tag: str
) -> Seeded:
    """Three conversations of `customer_id` through the real API; every text and metadata value they
    hold carries a marker made from `tag`."""
    name, reply, held, reference = (f"{tag}-name", f"{tag}-reply", f"{tag}-held", f"{tag}-reference")
    answered = new_conversation(client, widget, customer_id=customer_id, metadata={"name": name})
    ok = post_text(client, widget, answered, f"{CLEAR_TICKET} I am {name}.", **{"Idempotency-Key": tag})
    assert ok.status_code == 200 and ok.json()["status"] == "answered", ok.text

    resolved = new_conversation(client, widget, customer_id=customer_id, metadata={"reference": reference})
    paused = post_text(client, widget, resolved, DUPLICATE_CHARGE)
    assert paused.status_code == 202, paused.text
    review = pending_review(client, reviewer, resolved)
    claimed = client.post(f"/v1/reviews/{review['id']}/claim", headers=auth(reviewer))
    assert claimed.status_code == 200, claimed.text
    decision = {"action": "reply", "text": f"We refunded the second charge, {reply}."}
    done = client.post(f"/v1/reviews/{review['id']}/resolve", json=decision, headers=auth(reviewer))
    assert done.status_code == 200, done.text

    waiting = new_conversation(client, widget, customer_id=customer_id)
    assert post_text(client, widget, waiting, REFUND_TICKET).status_code == 202
    still = post_text(client, widget, waiting, f"Any news? This is {held}.")
    assert still.status_code == 202, still.text
    return Seeded(answered, resolved, waiting, (name, reply, held, reference))


def store_rows(client: TestClient) -> dict[str, list[str]]:
    """Every row of every table of the store (as the database has it, whoever made it), as text."""

    async def dump() -> dict[str, list[str]]:
        engine = service_of(client).store.engine
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            return {
                table: sorted(
                    repr(tuple(row)) for row in await connection.execute(text(f'SELECT * FROM "{table}"'))
                )
                for table in tables
            }

    tables: dict[str, list[str]] = call(client, dump)
    return tables


def rows_mentioning(client: TestClient, needle: str) -> dict[str, list[str]]:
    """Per table, the rows in which `needle` appears anywhere."""
    found = {table: [row for row in rows if needle in row] for table, rows in store_rows(client).items()}
    return {table: rows for table, rows in found.items() if rows}


def tables_mentioning(client: TestClient, needle: str) -> list[str]:
    """The store tables in which `needle` appears anywhere."""
    return sorted(rows_mentioning(client, needle))


def checkpoint_text(client: TestClient) -> str:
    """Every checkpoint of every thread, with its metadata and pending writes, rendered as text."""

    async def dump() -> str:
        saver = checkpointer_of(service_of(client).graph)
        items = [item async for item in saver.alist(None)]
        return "\n".join(repr((i.config, i.checkpoint, i.metadata, i.pending_writes)) for i in items)

    dumped: str = call(client, dump)
    return dumped


def checkpoints_of(client: TestClient, conversation_id: str) -> int:
    """How many checkpoints the conversation's thread has."""

    async def count() -> int:
        saver = checkpointer_of(service_of(client).graph)
        return len([item async for item in saver.alist(thread_config(conversation_id))])

    counted: int = call(client, count)
    return counted


def graph_values(client: TestClient, conversation_id: str) -> dict[str, Any]:
    """The state the graph would resume the conversation from."""

    async def read() -> dict[str, Any]:
        snapshot = await service_of(client).graph.aget_state(thread_config(conversation_id))
        return dict(snapshot.values)

    values: dict[str, Any] = call(client, read)
    return values


def audit_records(client: TestClient) -> list[AuditRecord]:
    """The whole audit log in order."""
    records: list[AuditRecord] = call(client, service_of(client).store.audit.records)
    return records


def audit_verifies(client: TestClient) -> bool:
    """What `support-router audit verify` checks: the whole chain and its head."""
    report = call(client, service_of(client).store.audit.verify)
    return bool(report.ok)


def backdate(client: TestClient, conversation_id: str, days: int) -> None:
    """Move every time the conversation's rows hold `days` into the past, as if it were that old."""
    shift = timedelta(days=days)
    columns = {
        Conversation: ("created_at", "updated_at"),
        Message: ("created_at",),
        Event: ("created_at",),
        Review: ("created_at", "claimed_at", "resolved_at", "first_responded_at"),
    }

    async def move() -> None:
        async with AsyncSession(service_of(client).store.engine) as session, session.begin():
            for model, names in columns.items():
                key = model.id if model is Conversation else model.conversation_id  # type: ignore[attr-defined]
                for row in await session.scalars(select(model).where(key == conversation_id)):
                    for name in names:
                        if getattr(row, name) is not None:
                            setattr(row, name, getattr(row, name) - shift)

    call(client, move)


def around_now() -> dict[str, str]:
    """A dashboard window of a day either side of now."""
    now = datetime.now(UTC)
    return {"since": (now - timedelta(days=1)).isoformat(), "until": (now + timedelta(days=1)).isoformat()}


def dashboard(client: TestClient, key: IssuedKey, window: dict[str, str]) -> dict[str, Any]:
    """Every dashboard endpoint over one window."""
    numbers = {}
    for endpoint in DASHBOARD:
        response = client.get(f"/v1/dashboard/{endpoint}", params=window, headers=auth(key))
        assert response.status_code == 200, response.text
        numbers[endpoint] = response.json()
    return numbers
