"""Retention over HTTP: old conversations anonymised or deleted everywhere, busy ones kept, the
audit chain and the dashboard intact, runs idempotent and recorded."""

from __future__ import annotations

from typing import Any

from api_helpers import (
    CLEAR_TICKET,
    assert_error,
    auth,
    call,
    fetch_conversation,
    new_conversation,
    post_text,
    service_of,
)
from fastapi.testclient import TestClient
from lifecycle_helpers import (
    OTHER,
    TARGET,
    around_now,
    audit_records,
    audit_verifies,
    backdate,
    checkpoint_text,
    checkpoints_of,
    dashboard,
    graph_values,
    seed_customer,
    tables_mentioning,
)

from app.data_removal import ConversationRemover, checkpointer_of
from app.leases import ConversationLeases
from app.retention import RetentionPlan, RetentionReport, run_retention
from app.store.keys import IssuedKey
from graph.outcome import TurnOutcome

OLD_DAYS = 400


def run(client: TestClient, key: IssuedKey, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/retention/run", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def test_anonymise_removes_every_text_of_old_conversations_and_keeps_their_numbers(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    old = seed_customer(client, widget, reviewer, TARGET, "oldmarker")
    recent = new_conversation(client, widget, customer_id=OTHER, metadata={"note": "recentmarker"})
    assert post_text(client, widget, recent, f"{CLEAR_TICKET} recentmarker").status_code == 200
    for conversation_id in old.conversations:
        backdate(client, conversation_id, OLD_DAYS)
    assert all(marker in checkpoint_text(client) for marker in ("oldmarker-name", "oldmarker-reply"))
    # (on PostgreSQL the checkpoint tables are in the same database and hold it too)
    assert {"audit_log", "events", "messages", "reviews"} <= set(tables_mentioning(client, "oldmarker-reply"))
    window = around_now()
    before = dashboard(client, reviewer, window)
    records_before = len(audit_records(client))

    report = run(client, admin, older_than_days=365, mode="anonymise")

    assert report["conversations"] == 2
    assert report["skipped"] == {"waiting_for_human": 1}
    assert report["checkpoint_threads"] == 2
    assert report["rows"]["conversations"] == 2 and report["rows"]["messages"] >= 4
    assert report["audit_records_redacted"] >= 3  # two routing decisions and the reviewer's reply
    # Nothing the customer or the reviewer wrote is left in the store or the checkpoints...
    for marker in ("oldmarker-name", "oldmarker-reply", "oldmarker-reference"):
        assert tables_mentioning(client, marker) == [], marker
        assert marker not in checkpoint_text(client)
    for conversation_id in (old.answered, old.resolved):
        assert checkpoints_of(client, conversation_id) == 0
        assert graph_values(client, conversation_id) == {}
        shown = fetch_conversation(client, widget, conversation_id)
        assert shown["status"] == "anonymised" and shown["customer_id"] is None and shown["metadata"] == {}
        assert {line["text"] for line in shown["transcript"]} == {""}
        assert all(TurnOutcome.model_validate(o).response == "" for o in shown["outcomes"])
    # ...the conversation waiting for a person and the recent one are untouched...
    assert tables_mentioning(client, "oldmarker-held") != []
    assert checkpoints_of(client, old.waiting) > 0 and checkpoints_of(client, recent) > 0
    assert "recentmarker" in checkpoint_text(client)
    assert fetch_conversation(client, widget, recent)["customer_id"] == OTHER
    # ...the audit log keeps every record and still verifies, and the dashboard counts the same.
    records = audit_records(client)
    assert len(records) == records_before + 2 + 1  # one record per conversation, one for the run
    assert audit_verifies(client)
    routing = [r for r in records if r.conversation_id == old.answered and r.kind == "routing_decision"]
    assert routing and all(r.inputs["_redacted"] is True and "customer" not in r.inputs for r in routing)
    assert routing[0].inputs["category"] == "account_access"
    assert dashboard(client, reviewer, window) == before
    # An anonymised conversation takes no new message.
    assert_error(post_text(client, widget, old.answered, "hello again"), 409)


def test_a_run_again_finds_nothing_and_a_dry_run_changes_nothing(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    old = seed_customer(client, widget, reviewer, TARGET, "againmarker")
    for conversation_id in old.conversations:
        backdate(client, conversation_id, OLD_DAYS)

    dry = run(client, admin, older_than_days=365, mode="delete", dry_run=True)
    assert dry["dry_run"] is True and dry["conversations"] == 2 and dry["checkpoint_threads"] == 2
    assert tables_mentioning(client, "againmarker-reply") != []
    assert checkpoints_of(client, old.answered) > 0
    assert not [r for r in audit_records(client) if r.kind == "data_lifecycle"]

    done = run(client, admin, older_than_days=365, mode="delete")
    assert {
        key: done[key] for key in ("conversations", "rows", "checkpoint_threads", "audit_records_redacted")
    } == {key: dry[key] for key in ("conversations", "rows", "checkpoint_threads", "audit_records_redacted")}
    for marker in ("againmarker-name", "againmarker-reply", "againmarker-reference"):
        assert tables_mentioning(client, marker) == [], marker
    assert_error(client.get(f"/v1/conversations/{old.answered}", headers=auth(widget)), 404)
    assert audit_verifies(client)

    again = run(client, admin, older_than_days=365, mode="delete")
    assert (
        again["conversations"] == 0 and again["rows"] == {} and again["skipped"] == {"waiting_for_human": 1}
    )
    runs = [r for r in audit_records(client) if r.details.get("action") == "retention_run"]
    assert [r.details["conversations"] for r in runs] == [2, 0]
    assert all(r.actor.startswith(admin.principal.key_id) for r in runs)


def test_a_limit_stops_the_run_and_the_next_run_goes_on(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    old = seed_customer(client, widget, reviewer, TARGET, "limitmarker")
    for conversation_id in old.conversations:
        backdate(client, conversation_id, OLD_DAYS)
    first = run(client, admin, older_than_days=365, mode="delete", limit=1)
    second = run(client, admin, older_than_days=365, mode="delete", limit=1)
    assert (first["conversations"], second["conversations"]) == (1, 1)
    assert first["limited"] is True
    assert tables_mentioning(client, "limitmarker-reply") == []


def test_only_admins_run_retention_and_an_age_is_needed(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey, admin: IssuedKey
) -> None:
    for key in (widget, reviewer):
        assert_error(client.post("/v1/retention/run", json={"older_than_days": 1}, headers=auth(key)), 403)
    no_age = assert_error(client.post("/v1/retention/run", json={}, headers=auth(admin)), 409)
    assert "SUPPORT_ROUTER_RETENTION_DAYS" in no_age["message"]
    for days in (0, 36_501, 10**15):
        assert_error(
            client.post("/v1/retention/run", json={"older_than_days": days}, headers=auth(admin)), 422
        )
    assert_error(
        client.post("/v1/retention/run", json={"older_than_days": 9, "mode": "x"}, headers=auth(admin)), 422
    )


def test_a_conversation_another_worker_holds_is_skipped_as_busy(
    client: TestClient, widget: IssuedKey, reviewer: IssuedKey
) -> None:
    old = seed_customer(client, widget, reviewer, TARGET, "busymarker")
    backdate(client, old.answered, OLD_DAYS)
    service = service_of(client)
    # The command line's remover: database leases, a short wait.
    remover = ConversationRemover(
        service.store,
        checkpointer_of(service.graph),
        ConversationLeases(service.store.leases, wait_seconds=0.2),
    )
    plan = RetentionPlan(older_than_days=365, mode="delete")

    async def while_another_worker_holds_it() -> RetentionReport:
        async with ConversationLeases(service.store.leases).hold(old.answered):
            return await run_retention(remover, plan, "test")

    busy = call(client, while_another_worker_holds_it)
    assert busy.conversations == 0 and busy.skipped == {"busy": 1}
    assert checkpoints_of(client, old.answered) > 0 and tables_mentioning(client, "busymarker-name") != []
    freed = call(client, run_retention, remover, plan, "test")
    assert freed.conversations == 1 and tables_mentioning(client, "busymarker-name") == []
