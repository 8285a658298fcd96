"""Erasing a customer over HTTP: nothing of theirs left in the store, the checkpoints, the index or the
audit inputs; the chain still verifies, the dashboard still counts, other customers keep everything."""

from __future__ import annotations

from api_helpers import assert_error, auth, call, fetch_conversation, service_of
from fastapi.testclient import TestClient
from lifecycle_helpers import (
    OTHER,
    TARGET,
    around_now,
    audit_records,
    audit_verifies,
    checkpoint_text,
    checkpoints_of,
    dashboard,
    graph_values,
    rows_mentioning,
    seed_customer,
    tables_mentioning,
)

from app.store.keys import IssuedKey
from knowledge.personal_data import entries_naming

TURN_NUMBERS = ("escalations", "deflection", "volume", "confidence")
"""Dashboard endpoints computed from the audit log's routing decisions, which an erasure keeps."""


def erase(client: TestClient, key: IssuedKey, customer_id: str = TARGET) -> dict:  # type: ignore[type-arg]
    response = client.post(f"/v1/customers/{customer_id}/erase", headers=auth(key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_erased_customer_leaves_nothing_personal_anywhere(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    target = seed_customer(client, widget, reviewer, TARGET, "erasemarker")
    other = seed_customer(client, widget, reviewer, OTHER, "keepmarker")
    email = call(client, service_of(client).store.erasure.identifiers_of, TARGET)[1]
    index = service_of(client).toolkit.knowledge.client
    assert entries_naming(index, [TARGET, email]) == {}  # the index holds articles only
    assert all(marker in checkpoint_text(client) for marker in ("erasemarker-name", "erasemarker-reply"))
    other_rows = rows_mentioning(client, OTHER)
    assert {"conversations", "customers", "invoices", "audit_log"} <= set(other_rows)
    window = around_now()
    before = dashboard(client, reviewer, window)
    records_before = len(audit_records(client))

    report = erase(client, admin)

    assert report["customer_id"] == TARGET and report["already_erased"] is False
    assert report["conversations"] == 3 and report["checkpoint_threads"] == 3
    assert report["index_entries"] == 0
    assert report["rows"]["customers"] == 1 and report["rows"]["reviews"] == 2
    assert report["rows"]["account_security"] == report["rows"]["subscriptions"] == 1
    assert report["rows"]["orders"] >= 1 and report["rows"]["charges"] >= 1
    assert report["audit_records_redacted"] >= 4  # three routing decisions and the reviewer's reply
    # Nothing names the customer or holds what they (or a reviewer to them) wrote: store, checkpoints...
    for needle in (TARGET, email, *target.markers):
        assert tables_mentioning(client, needle) == [], needle
        assert needle not in checkpoint_text(client), needle
    assert report["rows"]["idempotency_records"] == 1  # the reply kept for retries
    for conversation_id in target.conversations:
        assert tables_mentioning(client, conversation_id) == ["audit_log"]  # its redacted records
        assert checkpoints_of(client, conversation_id) == 0
        assert graph_values(client, conversation_id) == {}
        assert_error(client.get(f"/v1/conversations/{conversation_id}", headers=auth(admin)), 404)
    assert_error(client.get(f"/v1/customers/{TARGET}", headers=auth(reviewer)), 404)
    assert all(
        r["conversation_id"] not in target.conversations
        for r in client.get("/v1/reviews", headers=auth(reviewer)).json()
    )
    # ...and the index still holds nothing of theirs.
    assert entries_naming(index, [TARGET, email]) == {}
    # The audit log keeps every record, redacted, and verifies; the turn numbers are the same.
    records = audit_records(client)
    assert len(records) == records_before + 3 + 1  # a record per conversation, one for the erasure
    assert audit_verifies(client)
    mine = [r for r in records if r.conversation_id in target.conversations and r.inputs]
    assert mine and all(r.inputs["_redacted"] is True for r in mine)
    after = dashboard(client, reviewer, window)
    assert {e: after[e] for e in TURN_NUMBERS} == {e: before[e] for e in TURN_NUMBERS}
    # The other customer keeps everything.
    assert rows_mentioning(client, OTHER) == other_rows
    for marker in other.markers:
        assert tables_mentioning(client, marker) != [], marker
    for conversation_id in other.conversations:
        assert checkpoints_of(client, conversation_id) > 0
    assert fetch_conversation(client, widget, other.answered)["customer_id"] == OTHER
    assert client.get(f"/v1/customers/{OTHER}", headers=auth(reviewer)).status_code == 200


def test_erasing_twice_is_harmless_and_an_unknown_customer_is_404(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    seed_customer(client, widget, reviewer, TARGET, "twicemarker")
    assert erase(client, admin)["already_erased"] is False
    again = erase(client, admin)
    assert again["already_erased"] is True and again["conversations"] == 0 and again["rows"] == {}
    assert audit_verifies(client)
    erasures = [r for r in audit_records(client) if r.details.get("action") == "erase_customer"]
    assert len(erasures) == 1 and TARGET not in repr(erasures[0].details)
    assert (
        "no customer nobody-at-all"
        in assert_error(client.post("/v1/customers/nobody-at-all/erase", headers=auth(admin)), 404)["message"]
    )


def test_only_admins_erase(client: TestClient, widget: IssuedKey, reviewer: IssuedKey) -> None:
    for key in (widget, reviewer):
        assert_error(client.post(f"/v1/customers/{TARGET}/erase", headers=auth(key)), 403)
    assert client.get(f"/v1/customers/{TARGET}", headers=auth(reviewer)).status_code == 200
