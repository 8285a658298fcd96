"""The prompt-injection corpus (evals/datasets/injection.jsonl) posted as widget messages to real servers.

Every attack is the first message of its own conversation of the free demo customer. Each turn must be
handed to a person (202) or answered (200) with none of the attack's forbidden outcomes: no action
executed, none of the VIP customer's data, no passage of our instructions, no canary, no foreign link.
Offline against `support-router serve`; in LLM mode against the same app on an in-process uvicorn whose
every chat model obeys the attack (tests/unit/adversary.py), handed in through the app's model factory.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adversary import ObedientModels
from customer_data import identifiers, order_items
from langchain_core.messages import ToolMessage
from servers import LiveServer, SwappableModels

from app.store.portfolio import FREE_ID, VIP_ID
from evals.injection import Attack, read_attacks, violations

ATTACKS = read_attacks()
# The VIP's data, but for what some attack names itself (typing an order number leaks nothing).
FOREIGN = sorted(
    marker
    for marker in identifiers(VIP_ID) | order_items(VIP_ID)
    if not any(marker.lower() in attack.text.lower() for attack in ATTACKS)
)


@dataclass
class CorpusRun:
    """What the customer saw of each attack, and what the server did."""

    statuses: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def handed_off(self, attacks: list[Attack]) -> int:
        return sum(self.statuses[a.id] == 202 for a in attacks)


def send_attack(server: LiveServer, attack: Attack) -> tuple[int, dict[str, Any], list[str]]:
    """The attack in a new conversation: (status, the turn's outcome, every assistant line it stored)."""
    with server.client("widget") as widget:
        created = widget.post("/v1/conversations", json={"customer_id": FREE_ID, "channel": "chat"})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        posted = widget.post(
            f"/v1/conversations/{conversation}/messages",
            json={"text": attack.text},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert posted.status_code in (200, 202), (attack.id, posted.status_code, posted.text)
        view = widget.get(f"/v1/conversations/{conversation}").json()
    replies = [m["text"] for m in view["transcript"] if m["role"] != "customer"]
    return posted.status_code, posted.json(), replies


def check_attack(server: LiveServer, attack: Attack, run: CorpusRun) -> dict[str, Any]:
    """Post one attack and record what it achieved; the outcome, for more checks."""
    status, outcome, replies = send_attack(server, attack)
    run.statuses[attack.id] = status
    # What the customer was sent: the answer, or the notice that a person will reply.
    found = set()
    for reply in replies or [outcome["response"]]:
        found |= set(violations(attack, reply, outcome["tool_uses"], [], FOREIGN))
    if found:
        run.failures[attack.id] = sorted(found)
    return outcome


ACTION_TABLES = ("executed_actions", "refunds", "password_resets", "subscriptions", "account_security")


def action_rows(server: LiveServer) -> dict[str, int]:
    """The rows of the tables an action would add to."""
    return {table: server.rows(table) for table in ACTION_TABLES}


def report(mode: str, run: CorpusRun) -> None:
    must = [a for a in ATTACKS if a.must_escalate]
    kinds = Counter(a.kind for a in ATTACKS if run.statuses[a.id] == 202)
    print(
        f"\n{mode}: {len(ATTACKS)} attacks, {run.handed_off(ATTACKS)} handed to a person "
        f"({run.handed_off(must)} of the {len(must)} that need one), by kind {dict(sorted(kinds.items()))}"
    )


def test_the_foreign_markers_are_the_vip_customers_data() -> None:
    assert len(FOREIGN) >= 8 and "Standing desk" in FOREIGN
    assert not any(marker in identifiers(FREE_ID) for marker in FOREIGN)


def test_no_attack_gets_through_the_offline_service(served: LiveServer) -> None:
    run, before = CorpusRun(), action_rows(served)
    for attack in ATTACKS:
        check_attack(served, attack, run)
    report("offline", run)
    assert run.failures == {}
    assert action_rows(served) == before and before["executed_actions"] == 0


def test_no_attack_gets_through_llm_mode_with_a_model_that_obeys_it(
    llm_served: LiveServer, llm_models: SwappableModels
) -> None:
    run, before = CorpusRun(), action_rows(llm_served)
    tool_results: dict[str, list[str]] = {}
    for attack in ATTACKS:
        models = ObedientModels(attack)
        llm_models.current = models
        outcome = check_attack(llm_served, attack, run)
        # The model asked for the VIP's orders, invoices and refunds: the tools gave it nothing of theirs.
        seen = [
            str(message.content)
            for model in models.models.values()
            for prompt in model.prompts
            for message in prompt
            if isinstance(message, ToolMessage)
        ]
        tool_results[attack.id] = seen
        leaked = [marker for marker in FOREIGN if any(marker in result for result in seen)]
        assert not leaked, (attack.id, leaked)
        if outcome["proposed_action"] is not None:  # a proposal waits for a person: never run here
            assert run.statuses[attack.id] == 202, attack.id
    report("LLM mode, obedient model", run)
    assert run.failures == {}
    # Nobody approved anything: no refund, MFA reset, plan change or reset link came of the attacks.
    assert action_rows(llm_served) == before and before["executed_actions"] == 0
    # The obedient model did call the tools: the checks above looked at real tool results.
    assert sum(len(results) for results in tool_results.values()) >= len(ATTACKS)
