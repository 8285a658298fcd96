"""Policy diffs: rule and section changes are detected, identical documents give an empty diff."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from graph.policy.diff import diff_policies
from graph.policy.schema import DEFAULT_POLICY_FILE, PolicyDocument, parse_policy

DEFAULT_TEXT = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
BEFORE = parse_policy(DEFAULT_TEXT)


def changed(edit: Any) -> PolicyDocument:
    data = copy.deepcopy(yaml.safe_load(DEFAULT_TEXT))
    edit(data)
    return parse_policy(yaml.safe_dump(data))


def test_key_order_and_comments_do_not_count_as_changes() -> None:
    reformatted = parse_policy(
        "# only comments and layout differ\n" + yaml.safe_dump(yaml.safe_load(DEFAULT_TEXT))
    )
    diff = diff_policies(BEFORE, reformatted, "v1", "v2")
    assert diff.is_empty()
    assert diff.text == ""
    assert diff.summary() == "No differences."
    assert (diff.rules_added, diff.rules_removed, diff.rules_changed, diff.sections_changed) == (
        [],
        [],
        [],
        [],
    )
    assert not diff.order_changed
    assert diff_policies(BEFORE, BEFORE, "v1", "v1").is_empty()


def test_added_rule_is_detected() -> None:
    def add(data: dict[str, Any]) -> None:
        data["rules"].append(
            {
                "id": "email-low",
                "description": "Email waits.",
                "when": {"channel": ["email"]},
                "then": {"priority": "low"},
            }
        )

    diff = diff_policies(BEFORE, changed(add), "v1", "v2")
    assert diff.rules_added == ["email-low"]
    assert (diff.rules_removed, diff.rules_changed, diff.order_changed) == ([], [], False)
    assert "+- id: email-low\n" in diff.text
    assert "Rules added: email-low" in diff.summary()


def test_removed_rule_is_detected() -> None:
    diff = diff_policies(BEFORE, changed(lambda data: data["rules"].pop(6)), "v1", "v2")
    assert diff.rules_removed == ["vip-priority"]
    assert not diff.order_changed
    assert "-- id: vip-priority" in diff.text
    assert "Rules removed: vip-priority" in diff.summary()


def test_changed_rule_is_detected_with_labels_in_the_text() -> None:
    def lower(data: dict[str, Any]) -> None:
        data["rules"][4]["when"]["confidence"]["below"] = 0.45

    diff = diff_policies(BEFORE, changed(lower), "default@v1", "default@v2")
    assert diff.rules_changed == ["unclear-new-issue"]
    assert diff.sections_changed == []
    assert diff.text.startswith("--- default@v1\n+++ default@v2\n")
    assert "-      below: 0.5\n" in diff.text
    assert "+      below: 0.45\n" in diff.text
    assert diff.summary() == "Rules changed: unclear-new-issue"


def test_reordered_rules_are_detected() -> None:
    def swap(data: dict[str, Any]) -> None:
        data["rules"][2], data["rules"][3] = data["rules"][3], data["rules"][2]

    diff = diff_policies(BEFORE, changed(swap), "v1", "v2")
    assert diff.order_changed
    assert (diff.rules_added, diff.rules_removed, diff.rules_changed) == ([], [], [])
    assert not diff.is_empty()
    assert "Rule order changed." in diff.summary()


def test_changed_sections_are_detected() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["slas"]["vip"]["urgent"]["first_response_minutes"] = 10
        data["value"]["contract_value"]["full_at"] = 500000
        data["description"] = "Tighter VIP targets."

    diff = diff_policies(BEFORE, changed(edit), "v1", "v2")
    assert diff.sections_changed == ["description", "value", "slas"]
    assert diff.rules_changed == []
    assert diff.summary() == "Sections changed: description, value, slas"
