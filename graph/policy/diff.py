"""Compare two policy documents: rules added, removed, changed or reordered, sections changed, text diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import yaml

from graph.policy.schema import PolicyDocument


@dataclass(frozen=True)
class PolicyDiff:
    """What changed from one policy document to another."""

    rules_added: list[str]
    rules_removed: list[str]
    rules_changed: list[str]
    order_changed: bool
    """Whether rules present in both documents are tried in a different order."""
    sections_changed: list[str]
    """Top-level sections other than `rules` whose content differs."""
    text: str
    """A unified diff of the two documents' canonical YAML."""

    def is_empty(self) -> bool:
        """True when the documents mean the same thing."""
        changed = self.rules_added or self.rules_removed or self.rules_changed or self.sections_changed
        return not changed and not self.order_changed

    def summary(self) -> str:
        """A few readable lines, one per kind of change."""
        if self.is_empty():
            return "No differences."
        lines = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("Rules added", self.rules_added),
                ("Rules removed", self.rules_removed),
                ("Rules changed", self.rules_changed),
                ("Sections changed", self.sections_changed),
            )
            if names
        ]
        if self.order_changed:
            lines.append("Rule order changed.")
        return "\n".join(lines)


def canonical_yaml(document: PolicyDocument) -> str:
    """The document as YAML with comments and unset fields dropped, in schema order."""
    data = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _sections_changed(a: PolicyDocument, b: PolicyDocument) -> list[str]:
    before = a.model_dump(mode="json", by_alias=True)
    after = b.model_dump(mode="json", by_alias=True)
    return [key for key in before if key != "rules" and before[key] != after[key]]


def diff_policies(a: PolicyDocument, b: PolicyDocument, a_label: str, b_label: str) -> PolicyDiff:
    """The changes that turn document `a` into document `b`."""
    rules_a = {rule.id: rule for rule in a.rules}
    rules_b = {rule.id: rule for rule in b.rules}
    kept_a = [rule_id for rule_id in rules_a if rule_id in rules_b]
    kept_b = [rule_id for rule_id in rules_b if rule_id in rules_a]
    text = difflib.unified_diff(
        canonical_yaml(a).splitlines(keepends=True),
        canonical_yaml(b).splitlines(keepends=True),
        fromfile=a_label,
        tofile=b_label,
    )
    return PolicyDiff(
        rules_added=[rule_id for rule_id in rules_b if rule_id not in rules_a],
        rules_removed=[rule_id for rule_id in rules_a if rule_id not in rules_b],
        rules_changed=[rule_id for rule_id in kept_a if rules_a[rule_id] != rules_b[rule_id]],
        order_changed=kept_a != kept_b,
        sections_changed=_sections_changed(a, b),
        text="".join(text),
    )
