"""Replay: re-decide recorded or evaluation tickets under another policy version and list what changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.specialists.routing import SPECIALIST_FOR
from agents.triage.dataset import read_tickets
from app.settings import Settings
from app.store.audit import AuditLog
from graph.customers import CustomerDirectory
from graph.nodes.route import policy_inputs
from graph.policy.evaluate import Policy, PolicyDecision, PolicyInputs, evaluate

# What a reviewer or a customer would notice; the explanation and version always differ.
COMPARED = ("rule", "path", "priority", "sla_class", "segment", "specialist", "reason")


@dataclass(frozen=True)
class ReplayChange:
    """One ticket whose decision differs between two versions."""

    ticket: str
    text: str | None
    before: PolicyDecision
    after: PolicyDecision

    @property
    def fields(self) -> list[str]:
        """Which parts of the decision changed."""
        return [name for name in COMPARED if self.before.get(name) != self.after.get(name)]

    def describe(self) -> str:
        """One readable line per change."""
        parts = ", ".join(f"{name} {self.before.get(name)} → {self.after.get(name)}" for name in self.fields)
        label = f"{self.ticket}: {self.text[:60]!r} " if self.text else f"{self.ticket}: "
        return f"{label}{parts}"

    def as_json(self) -> dict[str, Any]:
        """The change with both full decisions."""
        return {
            "ticket": self.ticket,
            "text": self.text,
            "fields": self.fields,
            "before": dict(self.before),
            "after": dict(self.after),
        }


def compare(
    ticket: str, text: str | None, before: PolicyDecision, after: PolicyDecision
) -> ReplayChange | None:
    """The change, or None when the two decisions agree on everything compared."""
    change = ReplayChange(ticket, text, before, after)
    return change if change.fields else None


async def replay_recorded(
    audit: AuditLog, candidate: Policy, limit: int | None
) -> tuple[int, list[ReplayChange]]:
    """Re-decide every routing decision in the audit log from the inputs it recorded."""
    records = await audit.records(kind="routing_decision", limit=limit)
    changes: list[ReplayChange] = []
    replayed = 0
    for record in records:
        if record.inputs.get("_redacted"):
            continue  # erased at the customer's request: nothing left to decide from
        replayed += 1
        inputs = PolicyInputs.from_json(record.inputs)
        recorded: PolicyDecision = record.details["policy"]
        change = compare(f"record {record.seq}", None, recorded, evaluate(candidate, inputs))
        if change:
            changes.append(change)
    return replayed, changes


async def replay_dataset(
    path: Path,
    settings: Settings,
    customers: CustomerDirectory,
    baseline: Policy,
    candidate: Policy,
    limit: int | None,
) -> tuple[int, list[ReplayChange]]:
    """Classify each evaluation ticket once and decide it under both versions, at one shared instant."""
    tickets = read_tickets(path)[:limit]
    toolkit = settings.load_toolkit()
    vectors = toolkit.embedder.embed([t.text for t in tickets])
    at = datetime.now(UTC)
    changes: list[ReplayChange] = []
    for number, (ticket, vector) in enumerate(zip(tickets, vectors, strict=True), start=1):
        classification = toolkit.classifier.classify(ticket.text, vector).classification
        facts = await customers.facts(ticket.customer_id) if ticket.customer_id else None
        specialist = SPECIALIST_FOR[classification["category"]]
        inputs = policy_inputs(classification, specialist, False, ticket.channel, at, facts)
        change = compare(
            ticket.id or f"line {number}",
            ticket.text,
            evaluate(baseline, inputs),
            evaluate(candidate, inputs),
        )
        if change:
            changes.append(change)
    return len(tickets), changes
