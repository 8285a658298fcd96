"""Policy documents: the shipped default validates, bad documents are refused with field paths."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from graph.policy.schema import (
    DEFAULT_POLICY_FILE,
    HourRange,
    PolicyDocument,
    PolicyError,
    load_policy_file,
    parse_policy,
    policy_digest,
)

DEFAULT_TEXT = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULT_TEXT)


def default_data() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_DATA)


def problems(data: dict[str, Any]) -> list[str]:
    """The problems parse_policy reports for the data, which must be refused."""
    with pytest.raises(PolicyError) as info:
        parse_policy(yaml.safe_dump(data))
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_default_policy_validates_with_the_shipped_rules() -> None:
    document = load_policy_file(DEFAULT_POLICY_FILE)
    assert [rule.id for rule in document.rules] == [
        "person-for-general-risk",
        "person-for-unclear-general",
        "takeover-or-legal",
        "risk-needs-approval",
        "unclear-new-issue",
        "refunds-need-approval",
        "vip-priority",
    ]
    assert [segment.name for segment in document.segments] == ["vip", "priority", "standard", "basic"]
    assert document.segments[-1].when is None
    assert (document.defaults.path, document.defaults.priority) == ("ai_only", "normal")
    assert document.slas["vip"]["urgent"].first_response_minutes == 5
    assert document.slas["basic"]["low"].resolution_minutes == 10080
    assert document.value.contract_value.full_at == 250000
    assert document.value.tier.levels["business"] == 0.6


def test_confidence_out_of_range_names_the_field() -> None:
    data = default_data()
    data["rules"][1]["when"]["confidence"]["at_least"] = 1.5
    assert problems(data) == ["rules[1].when.confidence.at_least: Input should be less than or equal to 1"]


def test_every_problem_is_listed_one_per_line() -> None:
    data = default_data()
    data["rules"][0]["when"]["specialist"] = ["cashier"]
    data["segments"][0]["when"]["value_score"]["at_least"] = 170
    found = problems(data)
    assert len(found) == 2
    assert found[0] == "segments[0].when.value_score.at_least: Input should be less than or equal to 100"
    assert found[1].startswith("rules[0].when.specialist[0]: Input should be")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (lambda d: d, "colour: unknown key"),
        (lambda d: d["rules"][2]["when"], "rules[2].when.colour: unknown key"),
        (lambda d: d["rules"][2]["then"], "rules[2].then.colour: unknown key"),
        (lambda d: d["value"]["renewal"], "value.renewal.colour: unknown key"),
    ],
)
def test_unknown_keys_are_refused_by_name(where: Any, expected: str) -> None:
    data = default_data()
    where(data)["colour"] = "red"
    assert problems(data) == [expected]


def test_duplicate_rule_ids_are_refused() -> None:
    data = default_data()
    data["rules"][4]["id"] = "takeover-or-legal"
    assert problems(data) == ["rules[4].id: duplicate rule id 'takeover-or-legal' (also rules[2])"]


def test_rule_id_must_be_a_slug_and_not_reserved() -> None:
    data = default_data()
    data["rules"][0]["id"] = "Person For Risk"
    assert problems(data)[0].startswith("rules[0].id: String should match pattern")
    data["rules"][0]["id"] = "defaults"
    assert problems(data) == ["rules[0].id: 'defaults' is reserved for decisions no rule made"]


def test_weights_must_sum_to_100_and_the_message_says_the_sum() -> None:
    data = default_data()
    data["value"]["tier"]["weight"] = 20
    assert problems(data) == ["value: the five weights must sum to 100, they sum to 95"]


def test_tier_levels_must_list_every_tier() -> None:
    data = default_data()
    del data["value"]["tier"]["levels"]["free"]
    assert problems(data) == [
        "value.tier.levels: missing tier(s) free; list all of enterprise, business, standard, free"
    ]


def test_unknown_sla_class_in_a_rule_names_the_rule() -> None:
    data = default_data()
    data["rules"][3]["then"]["sla_class"] = "gold"
    (problem,) = problems(data)
    assert problem.startswith("rules[3].then.sla_class: unknown SLA class 'gold' in rule risk-needs-approval")


def test_unknown_sla_class_in_a_segment_names_the_segment() -> None:
    data = default_data()
    data["segments"][1]["sla_class"] = "gold"
    (problem,) = problems(data)
    assert problem.startswith("segments[1].sla_class: unknown SLA class 'gold' in segment priority")


def test_unknown_segment_in_a_rule_is_refused() -> None:
    data = default_data()
    data["rules"][6]["when"]["segment"] = ["platinum"]
    (problem,) = problems(data)
    assert problem.startswith("rules[6].when.segment: unknown segment 'platinum' in rule vip-priority")


def test_missing_catch_all_segment_is_refused() -> None:
    data = default_data()
    data["segments"][-1]["when"] = {"tier": ["free"]}
    (problem,) = problems(data)
    assert problem.startswith("segments[3].when: the last segment (basic) must have no 'when'")


def test_catch_all_before_the_end_is_refused() -> None:
    data = default_data()
    del data["segments"][1]["when"]
    assert problems(data) == [
        "segments[1].when: only the last segment may match everyone; the ones after are unused"
    ]


def test_sla_class_must_give_every_priority() -> None:
    data = default_data()
    del data["slas"]["standard"]["low"]
    assert problems(data) == ["slas.standard: missing priority low; give all of urgent, high, normal, low"]


def test_resolution_must_not_be_shorter_than_first_response() -> None:
    data = default_data()
    data["slas"]["vip"]["high"] = {"first_response_minutes": 60, "resolution_minutes": 30}
    (problem,) = problems(data)
    assert problem.startswith("slas.vip.high: resolution_minutes (30) is shorter than")


def test_unknown_priority_key_names_the_key() -> None:
    data = default_data()
    data["slas"]["vip"]["asap"] = data["slas"]["vip"]["low"]
    assert problems(data) == ["slas.vip.asap: Input should be 'urgent', 'high', 'normal' or 'low'"]


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({}, "rules[1].when.confidence: set at_least, below or both"),
        (
            {"at_least": 0.6, "below": 0.5},
            "rules[1].when.confidence: at_least (0.6) must be less than below (0.5)",
        ),
        (
            {"at_least": 0.5, "below": 0.5},
            "rules[1].when.confidence: at_least (0.5) must be less than below (0.5)",
        ),
    ],
)
def test_ranges_must_be_non_empty(bounds: dict[str, float], expected: str) -> None:
    data = default_data()
    data["rules"][1]["when"]["confidence"] = bounds
    assert problems(data) == [expected]


def test_unknown_timezone_is_refused() -> None:
    data = default_data()
    data["rules"][0]["when"]["time"] = {"days": ["mon"], "timezone": "Mars/Olympus_Mons"}
    (problem,) = problems(data)
    assert problem.startswith("rules[0].when.time.timezone: unknown time zone 'Mars/Olympus_Mons'")


def test_hour_range_must_run_forwards() -> None:
    data = default_data()
    data["rules"][0]["when"]["time"] = {"hours": {"from": 17, "to": 9}}
    (problem,) = problems(data)
    assert problem.startswith("rules[0].when.time.hours: to (9) must be after from (17)")
    data["rules"][0]["when"]["time"] = {"hours": {"from": 24, "to": 24}}
    assert problems(data) == ["rules[0].when.time.hours.from: Input should be less than or equal to 23"]


def test_hour_range_reads_and_writes_from_by_its_yaml_name() -> None:
    hours = HourRange.model_validate({"from": 9, "to": 17})
    assert hours.from_ == 9
    assert hours.model_dump(by_alias=True) == {"from": 9, "to": 17}


def test_empty_time_window_is_refused() -> None:
    data = default_data()
    data["rules"][0]["when"]["time"] = {"timezone": "UTC"}
    assert problems(data) == ["rules[0].when.time: set days, hours or both"]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("risk:{signals}", "rules[0].then.reason: unknown placeholder(s) 'signals'; use only {risk_signals}"),
        ("risk:{", "rules[0].then.reason: not a valid template"),
        ("risk:{}", "rules[0].then.reason: unknown placeholder(s) ''"),
    ],
)
def test_reason_placeholders_are_checked(reason: str, expected: str) -> None:
    data = default_data()
    data["rules"][0]["then"]["reason"] = reason
    (problem,) = problems(data)
    assert problem.startswith(expected)


def test_default_reason_placeholders_are_checked() -> None:
    data = default_data()
    data["defaults"]["reason"] = "{customer}"
    (problem,) = problems(data)
    assert problem.startswith("defaults.reason: unknown placeholder(s) 'customer'")


def test_reason_with_known_placeholders_is_accepted() -> None:
    data = default_data()
    data["rules"][0]["then"]["reason"] = "{category}/{segment}: {risk_signals}"
    assert parse_policy(yaml.safe_dump(data)).rules[0].then.reason == "{category}/{segment}: {risk_signals}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("some", "rules[0].when.risk_signals: 'some' is not 'any', 'none' or a non-empty list of:"),
        (["chargeback", "lawsuit"], "rules[0].when.risk_signals: unknown signal(s) lawsuit;"),
        ([], "rules[0].when.risk_signals: unknown signal(s) (empty list);"),
        (3, "rules[0].when.risk_signals: expected 'any', 'none' or a non-empty list of:"),
    ],
)
def test_bad_risk_signals_are_refused_clearly(value: Any, expected: str) -> None:
    data = default_data()
    data["rules"][0]["when"]["risk_signals"] = value
    (problem,) = problems(data)
    assert problem.startswith(expected)


def test_condition_lists_must_not_be_empty() -> None:
    data = default_data()
    data["rules"][5]["when"]["specialist"] = []
    (problem,) = problems(data)
    assert problem.startswith("rules[5].when.specialist: List should have at least 1 item")


def test_category_must_be_a_triage_category() -> None:
    data = default_data()
    data["rules"][0]["when"]["category"] = ["refunds"]
    (problem,) = problems(data)
    assert problem.startswith("rules[0].when.category[0]: Input should be 'billing', 'account_access'")


def test_missing_section_is_named() -> None:
    data = default_data()
    del data["defaults"]
    assert problems(data) == ["defaults: Field required"]


def test_yaml_syntax_error_gives_line_and_column() -> None:
    text = "name: broken\ndescription: x\nvalue: {tier: [1, 2\nrules: []\n"
    with pytest.raises(PolicyError, match=r"^line 4, column \d+: YAML syntax error"):
        parse_policy(text)


def test_duplicate_yaml_keys_are_refused_with_their_line() -> None:
    text = DEFAULT_TEXT + "defaults:\n  path: human_first\n  priority: low\n"
    line = DEFAULT_TEXT.count("\n") + 1
    with pytest.raises(
        PolicyError, match=rf"^line {line}, column 1: YAML syntax error: duplicate key 'defaults'"
    ):
        parse_policy(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("- a\n- b\n", "not list"), ("just text", "not str"), ("", "empty")]
)
def test_top_level_must_be_a_mapping(text: str, expected: str) -> None:
    with pytest.raises(PolicyError, match=expected):
        parse_policy(text)


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_load_policy_file_prefixes_problems_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    data = default_data()
    data["value"]["tier"]["weight"] = 20
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PolicyError, match=rf"^{path}: value: the five weights must sum to 100"):
        load_policy_file(path)
    with pytest.raises(PolicyError, match="no such file"):
        load_policy_file(tmp_path / "missing.yaml")


def test_documents_are_frozen() -> None:
    document = parse_policy(DEFAULT_TEXT)
    with pytest.raises(ValidationError):
        document.rules[0].then.priority = "low"


def test_digest_ignores_comments_and_layout() -> None:
    reflowed = yaml.safe_dump(DEFAULT_DATA, default_flow_style=False, indent=4)
    commented = "# a new comment\n" + DEFAULT_TEXT.replace("\nrules:\n", "\n\n\nrules:   # the rules\n")
    digest = policy_digest(DEFAULT_TEXT)
    assert len(digest) == 64
    assert policy_digest(reflowed) == digest
    assert policy_digest(commented) == digest


def test_digest_changes_when_a_threshold_changes() -> None:
    data = default_data()
    data["rules"][4]["when"]["confidence"]["below"] = 0.45
    assert policy_digest(yaml.safe_dump(data)) != policy_digest(DEFAULT_TEXT)


def test_model_validate_applies_the_document_checks_too() -> None:
    data = default_data()
    data["rules"].append(copy.deepcopy(data["rules"][0]))
    with pytest.raises(ValidationError, match="duplicate rule id 'person-for-general-risk'"):
        PolicyDocument.model_validate(data)
