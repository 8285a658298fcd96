"""The store side of retention and erasure: which conversations may go, what removing one does to its
rows and its audit records, dry runs, and a customer's own records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app.store.audit import AuditEntry
from app.store.models import Conversation, Event, Message, Review
from app.store.portfolio import FREE_ID, VIP_ID
from app.store.store import AppStore, open_store

CUTOFF = datetime(2025, 1, 1, tzinfo=UTC)
OLD = CUTOFF - timedelta(days=30)
NEW = CUTOFF + timedelta(days=30)
ROUTING_INPUTS = {
    "category": "billing",
    "confidence": 0.9,
    "risk_signals": [],
    "follow_up": False,
    "specialist": "billing",
    "channel": "chat",
    "at": OLD.isoformat(),
    "customer": {"customer_id": FREE_ID, "tier": "free"},
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AppStore]:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as store:
        await store.customers.seed_demo_if_empty(count=20)
        await store.business.seed_demo_if_empty(count=20)
        yield store


async def conversation(
    store: AppStore,
    conversation_id: str,
    status: str = "active",
    customer_id: str | None = FREE_ID,
    message_at: datetime = OLD,
    message_state: str = "answered",
    review_status: str | None = None,
) -> None:
    """A conversation last updated before the cutoff, with one message, an event and a routing record."""
    await store.conversations.create(
        Conversation(
            id=conversation_id,
            customer_id=customer_id,
            meta={"name": "Jane"},
            created_by="k",
            status=status,
            created_at=OLD,
            updated_at=OLD,
        )
    )
    review = (
        Review(
            id=f"r-{conversation_id}",
            conversation_id=conversation_id,
            customer_id=customer_id,
            turn=1,
            reason="low_confidence",
            payload={"conversation_id": conversation_id, "turn": 1, "reason": "low_confidence", "text": "hi"},
            status=review_status,
            created_at=OLD,
        )
        if review_status
        else None
    )
    message = Message(
        conversation_id=conversation_id, role="customer", text="I am Jane", turn=1, state=message_state
    )
    message.created_at = message_at
    routing = AuditEntry("routing_decision", "router", conversation_id, ROUTING_INPUTS, {"turn": 1}, at=OLD)
    await store.conversations.record(conversation_id, [message], review=review, audit=[routing])
    await store.conversations.record(conversation_id, [], [("message", {"role": "customer", "text": "Jane"})])
    await backdate_events(store, conversation_id, message_at)


async def backdate_events(store: AppStore, conversation_id: str, at: datetime) -> None:
    async with store.engine.begin() as connection:
        await connection.execute(
            update(Event).where(Event.conversation_id == conversation_id).values(created_at=at)
        )


async def test_only_idle_conversations_nobody_works_on_may_go(store: AppStore) -> None:
    await conversation(store, "idle")
    await conversation(store, "talked-recently", message_at=NEW)
    await conversation(store, "waiting", status="waiting_for_human", review_status="pending")
    await conversation(store, "open-review", review_status="resolving")
    await conversation(store, "unprocessed", message_state="received")
    await conversation(store, "resolved", review_status="resolved")

    listed = await store.erasure.idle_before(CUTOFF)
    assert listed == ["idle", "open-review", "resolved", "unprocessed", "waiting"]
    assert await store.erasure.idle_before(CUTOFF, after_id="open-review", limit=2) == [
        "resolved",
        "unprocessed",
    ]
    kept = {c: await store.erasure.kept_because(c, CUTOFF) for c in [*listed, "talked-recently", "nope"]}
    assert kept == {
        "idle": None,
        "open-review": "open_review",
        "resolved": None,
        "unprocessed": "turn_in_progress",
        "waiting": "waiting_for_human",
        "talked-recently": "recent",
        "nope": "gone",
    }
    # An erasure (no cutoff) takes every conversation, whatever its state.
    assert await store.erasure.kept_because("waiting") is None


async def test_anonymise_keeps_the_rows_and_empties_them_once(store: AppStore) -> None:
    await conversation(store, "c1", review_status="resolved")

    removal = await store.erasure.remove("c1", "anonymise", "admin", "retention", CUTOFF)

    assert removal.kept is None and removal.audit_redacted == 1
    assert removal.rows == {
        "idempotency_records": 0,
        "events": 1,
        "messages": 1,
        "reviews": 1,
        "conversations": 1,
    }
    kept = await store.conversations.get("c1")
    assert kept is not None and kept.status == "anonymised" and kept.customer_id is None and kept.meta == {}
    assert kept.updated_at == OLD
    assert [m.text for m in await store.conversations.messages("c1")] == [""]
    assert [e.data for e in await store.events.after("c1", 0)] == [{"role": "customer", "text": ""}]
    review = await store.reviews.get("r-c1")
    assert review is not None and review.customer_id is None and review.payload["text"] == ""
    (routing, record) = await store.audit.trail("c1")
    assert routing.inputs == {k: v for k, v in ROUTING_INPUTS.items() if k != "customer"} | {
        "_redacted": True
    }
    assert record.kind == "data_lifecycle" and record.details["action"] == "anonymise"
    assert (await store.audit.verify()).ok
    # Again: nothing to do, nothing recorded.
    assert (await store.erasure.remove("c1", "anonymise", "admin", "retention", CUTOFF)).kept == "anonymised"
    assert len(await store.audit.trail("c1")) == 2


async def test_a_dry_run_counts_exactly_and_changes_nothing(store: AppStore) -> None:
    await conversation(store, "c1", review_status="resolved")
    records = len(await store.audit.records())

    dry = await store.erasure.remove("c1", "delete", "admin", "retention", CUTOFF, dry_run=True)

    assert dry.kept is None and dry.rows["messages"] == 1 and dry.rows["conversations"] == 1
    assert await store.conversations.get("c1") is not None
    assert len(await store.audit.records()) == records
    assert (await store.audit.trail("c1"))[0].inputs == ROUTING_INPUTS
    real = await store.erasure.remove("c1", "delete", "admin", "retention", CUTOFF)
    assert real.rows == dry.rows and real.audit_redacted == dry.audit_redacted
    assert await store.conversations.get("c1") is None and await store.conversations.messages("c1") == []
    assert (await store.erasure.remove("c1", "delete", "admin", "retention", CUTOFF)).kept == "gone"
    assert (await store.audit.verify()).ok


async def test_a_customer_s_records_go_and_others_stay(store: AppStore) -> None:
    await conversation(store, "mine")
    await conversation(store, "theirs", customer_id=VIP_ID)
    assert await store.erasure.conversations_of(FREE_ID) == ["mine"]
    identifiers = await store.erasure.identifiers_of(FREE_ID)
    assert identifiers[0] == FREE_ID and "@" in identifiers[1]
    vip_orders = await store.business.orders(VIP_ID)

    rows = await store.erasure.erase_customer_records(
        FREE_ID, "admin", {"conversations": 0}, erased_elsewhere=False
    )

    assert rows["customers"] == 1 and rows["account_security"] == 1 and rows["subscriptions"] == 1
    assert await store.customers.get(FREE_ID) is None
    assert await store.business.orders(FREE_ID) == [] and await store.business.plan(FREE_ID) is None
    assert await store.customers.get(VIP_ID) is not None and await store.business.orders(VIP_ID) == vip_orders
    (erasure,) = await store.erasure.erasures_of(FREE_ID)
    assert erasure.details["customer_rows"] == rows and FREE_ID not in repr(erasure.details)
    # Nothing left: nothing deleted, nothing recorded.
    again = await store.erasure.erase_customer_records(FREE_ID, "admin", {}, erased_elsewhere=False)
    assert not any(again.values()) and len(await store.erasure.erasures_of(FREE_ID)) == 1
    assert await store.erasure.erasures_of(VIP_ID) == []
