"""The `support-router policy …` and `audit …` commands, run in process on a private data dir."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from api_helpers import CLEAR_TICKET
from policy_helpers import default_policy_text
from typer.testing import CliRunner, Result

from agents.toolkit import Toolkit
from app.cli import cli
from app.service import LOCAL_ADMIN, open_service
from app.settings import Settings
from app.store.database import SQLITE_FILE
from graph.policy.schema import DEFAULT_POLICY_FILE

VIP_RULE_THEN = "    then: {path: ai_only, priority: high}\n"


@pytest.fixture
def env(settings: Settings) -> dict[str, str | None]:
    """The environment that points every command at the test's data dir and the session's models."""
    return {
        "SUPPORT_ROUTER_DATA_DIR": str(settings.data_dir),
        "SUPPORT_ROUTER_TRIAGE_MODEL": str(settings.triage_model),
        "SUPPORT_ROUTER_INDEX_DIR": str(settings.index_dir),
        "SUPPORT_ROUTER_ADMIN_KEY": None,  # unset, so only the key a test passes counts
    }


def invoke(env: dict[str, str | None], *args: str, **extra_env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={**env, **extra_env})


def new_key(env: dict[str, str | None], role: str, name: str) -> str:
    result = invoke(env, "keys", "create", "--role", role, "--name", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def route_clear_tickets(settings: Settings, toolkit: Toolkit, customers: list[str]) -> list[str]:
    """One routed turn per customer through the service, as the API would run it; the conversation ids."""

    async def go() -> list[str]:
        async with open_service(settings, toolkit) as service:
            ids = []
            for customer in customers:
                conversation = await service.create_conversation(LOCAL_ADMIN, customer, channel="api")
                outcome = await service.post_message(LOCAL_ADMIN, conversation.id, CLEAR_TICKET)
                assert outcome.status == "answered"
                ids.append(conversation.id)
            return ids

    return asyncio.run(go())


def urgent_vip_policy(tmp_path: Path) -> Path:
    """The shipped default with the vip-priority rule raised to urgent."""
    text = default_policy_text()
    assert text.count(VIP_RULE_THEN) == 1
    path = tmp_path / "urgent-vip.yaml"
    path.write_text(text.replace(VIP_RULE_THEN, "    then: {path: ai_only, priority: urgent}\n"), "utf-8")
    return path


def test_validate_accepts_the_shipped_default(env: dict[str, str | None]) -> None:
    result = invoke(env, "policy", "validate", str(DEFAULT_POLICY_FILE))
    assert result.exit_code == 0, result.output
    assert "valid policy 'default', 7 rules" in result.stdout


def test_validate_names_the_bad_field(env: dict[str, str | None], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = default_policy_text()
    # The first `confidence: {below: 0.5}` is rules[1]; 1.5 is no probability.
    broken.write_text(text.replace("confidence: {below: 0.5}", "confidence: {at_least: 1.5}", 1), "utf-8")
    result = invoke(env, "policy", "validate", str(broken))
    assert result.exit_code == 2, result.output
    assert "is not a valid policy" in result.stderr
    assert "rules[1].when.confidence.at_least" in result.stderr


def test_the_policy_lifecycle_from_the_command_line(
    env: dict[str, str | None], settings: Settings, toolkit: Toolkit, tmp_path: Path
) -> None:
    route_clear_tickets(settings, toolkit, ["cus_vip", "cus_free"])
    ana, ben = new_key(env, "admin", "ana"), new_key(env, "admin", "ben")
    reviewer = new_key(env, "reviewer", "rita")
    policy = urgent_vip_policy(tmp_path)

    refused = invoke(env, "policy", "propose", str(policy), "--key", reviewer)
    assert refused.exit_code == 2 and "need an admin key" in refused.stderr
    proposed = invoke(env, "policy", "propose", str(policy), "--key", ana)
    assert proposed.exit_code == 0, proposed.output
    assert "proposed version 2 (draft)" in proposed.stdout
    own = invoke(env, "policy", "approve", "2", "--key", ana)
    assert own.exit_code == 2, own.output
    assert own.stderr.startswith("error: ") and "another admin must approve it" in own.stderr
    # The key may also come from the environment.
    approved = invoke(env, "policy", "approve", "2", SUPPORT_ROUTER_ADMIN_KEY=ben)
    assert approved.exit_code == 0, approved.output
    assert "approved version 2" in approved.stdout

    diff = invoke(env, "policy", "diff", "1", "2")
    assert diff.exit_code == 0, diff.output
    assert "Rules changed: vip-priority" in diff.stdout
    assert "+    priority: urgent" in diff.stdout and "-    priority: high" in diff.stdout

    # The two recorded turns: only the VIP's decision (vip-priority) changes under version 2.
    recorded = invoke(env, "policy", "replay", "2", "--recorded")
    assert recorded.exit_code == 0, recorded.output
    assert "1 of 2 decisions change under version 2" in recorded.stdout
    assert "priority high → urgent" in recorded.stdout

    dataset = tmp_path / "tickets.jsonl"
    rows = [
        {"id": "vip-reset", "text": CLEAR_TICKET, "category": "account_access", "customer_id": "cus_vip"},
        {"id": "free-reset", "text": CLEAR_TICKET, "category": "account_access", "customer_id": "cus_free"},
        {"id": "nobody-reset", "text": CLEAR_TICKET, "category": "account_access"},
    ]
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    replayed = invoke(env, "policy", "replay", "2", "--dataset", str(dataset))
    assert replayed.exit_code == 0, replayed.output
    assert "1 of 3 decisions change under version 2" in replayed.stdout
    assert "vip-reset:" in replayed.stdout and "priority high → urgent" in replayed.stdout
    assert "free-reset" not in replayed.stdout

    canary = invoke(env, "policy", "canary", "2", "--percent", "50", "--key", ana)
    assert canary.exit_code == 0, canary.output
    assert "version 2 serves 50% of customers; version 1 the rest" in canary.stdout
    listing = invoke(env, "policy", "list", "--json")
    assert listing.exit_code == 0, listing.output
    listed = json.loads(listing.stdout)
    assert (listed["active"], listed["canary"], listed["canary_percent"]) == (1, 2, 50)
    assert [(v["version"], v["status"]) for v in listed["versions"]] == [(1, "approved"), (2, "approved")]
    assert listed["versions"][1]["proposed_by"].endswith(":ana")
    assert listed["versions"][1]["approved_by"].endswith(":ben")

    promoted = invoke(env, "policy", "promote", "--key", ben)
    assert promoted.exit_code == 0, promoted.output
    assert "version 2 is active for everyone" in promoted.stdout
    rolled_back = invoke(env, "policy", "rollback", "--key", ana)
    assert rolled_back.exit_code == 0, rolled_back.output
    assert "version 1 is active for everyone" in rolled_back.stdout
    final = json.loads(invoke(env, "policy", "list", "--json").stdout)
    assert (final["active"], final["canary"]) == (1, None)


def test_audit_verify_names_an_edited_record(
    env: dict[str, str | None], settings: Settings, toolkit: Toolkit
) -> None:
    conversation_id, _ = route_clear_tickets(settings, toolkit, ["cus_vip", "cus_free"])
    trail = invoke(env, "audit", "trail", conversation_id)
    assert trail.exit_code == 0, trail.output
    (record,) = json.loads(trail.stdout)
    assert record["kind"] == "routing_decision" and record["details"]["policy"]["rule"] == "vip-priority"

    intact = invoke(env, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "audit log ok: 3 records verified" in intact.stdout  # the install and two turns

    # Someone with database access rewrites the decision behind the log's back.
    with sqlite3.connect(settings.data_dir / SQLITE_FILE) as database:
        changed = database.execute(
            "UPDATE audit_log SET details = ? WHERE seq = ?",
            (json.dumps({"policy": {"rule": "defaults"}}), record["seq"]),
        )
        assert changed.rowcount == 1
    broken = invoke(env, "audit", "verify")
    assert broken.exit_code == 1, broken.output
    assert f"audit log BROKEN at record {record['seq']}" in broken.stdout
    assert "altered" in broken.stdout
