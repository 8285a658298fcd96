"""Policy evaluation: rule precedence, each condition, defaults, SLAs, determinism and explanations."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from graph.policy.evaluate import Policy, PolicyInputs, evaluate, matching_rule
from graph.policy.schema import DEFAULT_POLICY_FILE, load_policy_file, parse_policy
from graph.policy.value import CustomerFacts

DEFAULT = Policy(version="v-default", document=load_policy_file(DEFAULT_POLICY_FILE))
DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
WEDNESDAY = datetime(2025, 6, 4, 10, 30, tzinfo=UTC)


def customer(**changes: Any) -> CustomerFacts:
    """A customer of modest value (standard tier, segment `standard`) unless changed."""
    facts = CustomerFacts(
        customer_id="cus_00042",
        tier="standard",
        annual_contract_value=1200.0,
        renewal_date=None,
        churn_signals=[],
        open_incidents=0,
        region="eu",
    )
    facts.update(changes)  # type: ignore[typeddict-item]
    return facts


def vip() -> CustomerFacts:
    return customer(tier="enterprise", annual_contract_value=300000.0, renewal_date="2025-06-20")


def inputs(**changes: Any) -> PolicyInputs:
    """A plain, confident, new billing ticket with no risk and no customer unless changed."""
    base = PolicyInputs(
        category="billing",
        confidence=0.9,
        risk_signals=(),
        follow_up=False,
        specialist="billing",
        channel="chat",
        at=WEDNESDAY,
        customer=None,
    )
    return dataclasses.replace(base, **changes)


def policy_with(when: dict[str, Any], then: dict[str, Any] | None = None, **sections: Any) -> Policy:
    """The default policy's value, segments and SLAs with one probe rule."""
    data = copy.deepcopy(DEFAULT_DATA)
    data["rules"] = [
        {"id": "probe", "description": "Probe.", "when": when, "then": then or {"path": "human_first"}}
    ]
    data.update(sections)
    return Policy(version="v-probe", document=parse_policy(yaml.safe_dump(data)))


def fires(when: dict[str, Any], **changes: Any) -> bool:
    return evaluate(policy_with(when), inputs(**changes))["rule"] == "probe"


# --- the default policy: precedence and the router's behaviour -------------------------------------


def test_chargeback_on_a_general_ticket_goes_to_a_person_first() -> None:
    decision = evaluate(DEFAULT, inputs(category="other", specialist="general", risk_signals=("chargeback",)))
    assert decision["rule"] == "person-for-general-risk"
    assert (decision["path"], decision["priority"], decision["reason"]) == (
        "human_first",
        "high",
        "risk:chargeback",
    )


def test_chargeback_on_a_billing_ticket_needs_approval() -> None:
    decision = evaluate(DEFAULT, inputs(risk_signals=("chargeback", "strong_frustration")))
    assert decision["rule"] == "risk-needs-approval"
    assert (decision["path"], decision["priority"]) == ("ai_with_human_approval", "high")
    assert decision["reason"] == "risk:chargeback,strong_frustration"


def test_legal_threat_fires_takeover_or_legal_before_the_generic_risk_rule() -> None:
    decision = evaluate(DEFAULT, inputs(risk_signals=("chargeback", "legal_threat")))
    assert decision["rule"] == "takeover-or-legal"
    assert (decision["path"], decision["priority"]) == ("ai_with_human_approval", "urgent")


def test_refund_request_on_refunds_fires_the_risk_rule_before_the_refund_rule() -> None:
    decision = evaluate(
        DEFAULT, inputs(category="refund", specialist="refunds", risk_signals=("refund_request",))
    )
    assert decision["rule"] == "risk-needs-approval"
    plain = evaluate(DEFAULT, inputs(category="refund", specialist="refunds"))
    assert (plain["rule"], plain["reason"]) == ("refunds-need-approval", "refund_requires_approval")


def test_vip_routine_ticket_is_answered_by_ai_with_high_priority() -> None:
    decision = evaluate(DEFAULT, inputs(customer=vip()))
    assert (decision["rule"], decision["segment"]) == ("vip-priority", "vip")
    assert (decision["path"], decision["priority"], decision["reason"]) == ("ai_only", "high", None)


def test_no_matching_rule_uses_the_defaults() -> None:
    decision = evaluate(DEFAULT, inputs(customer=customer()))
    assert (decision["rule"], decision["path"], decision["priority"]) == ("defaults", "ai_only", "normal")
    assert decision["reason"] is None
    assert decision["segment"] == "standard"
    assert matching_rule(DEFAULT.document, inputs(), 0.0, "basic") is None


def _router_before_policies(
    specialist: str, risks: tuple[str, ...], confidence: float, follow_up: bool
) -> tuple[str, str | None]:
    """What graph/nodes/route.py and the refunds specialist did before the policy existed."""
    if risks:
        needs_human: str | None = "risk:" + ",".join(risks)
    elif not follow_up and confidence < 0.5:
        needs_human = "low_confidence"
    else:
        needs_human = None
    if needs_human and specialist == "general":
        return "human_first", needs_human
    if needs_human:
        return "ai_with_human_approval", needs_human
    if specialist == "refunds":
        return "ai_with_human_approval", "refund_requires_approval"
    return "ai_only", None


@pytest.mark.parametrize(
    ("specialist", "risks", "confidence", "follow_up"),
    list(
        itertools.product(
            ["billing", "access", "technical", "refunds", "general"],
            [(), ("chargeback",), ("legal_threat",), ("human_request", "fraud_or_takeover"), ("abuse",)],
            [0.1, 0.49999, 0.5, 0.95],
            [False, True],
        )
    ),
)
def test_default_policy_reproduces_the_router(
    specialist: str, risks: tuple[str, ...], confidence: float, follow_up: bool
) -> None:
    ticket = inputs(specialist=specialist, risk_signals=risks, confidence=confidence, follow_up=follow_up)
    decision = evaluate(DEFAULT, ticket)
    assert (decision["path"], decision["reason"]) == _router_before_policies(
        specialist, risks, confidence, follow_up
    )


# --- each condition matches and fails to match -----------------------------------------------------


@pytest.mark.parametrize(
    ("when", "changes", "expected"),
    [
        ({"category": ["billing", "refund"]}, {}, True),
        ({"category": ["refund"]}, {}, False),
        ({"specialist": ["billing"]}, {}, True),
        ({"specialist": ["technical", "access"]}, {}, False),
        ({"confidence": {"at_least": 0.5}}, {"confidence": 0.5}, True),
        ({"confidence": {"at_least": 0.5}}, {"confidence": 0.4999}, False),
        ({"confidence": {"below": 0.5}}, {"confidence": 0.5}, False),
        ({"confidence": {"below": 0.5}}, {"confidence": 0.4999}, True),
        ({"confidence": {"at_least": 0.2, "below": 0.6}}, {"confidence": 0.2}, True),
        ({"confidence": {"at_least": 0.2, "below": 0.6}}, {"confidence": 0.6}, False),
        ({"risk_signals": "any"}, {"risk_signals": ("abuse",)}, True),
        ({"risk_signals": "any"}, {}, False),
        ({"risk_signals": "none"}, {}, True),
        ({"risk_signals": "none"}, {"risk_signals": ("abuse",)}, False),
        ({"risk_signals": ["legal_threat", "abuse"]}, {"risk_signals": ("chargeback", "abuse")}, True),
        ({"risk_signals": ["legal_threat", "abuse"]}, {"risk_signals": ("chargeback",)}, False),
        ({"risk_signals": ["legal_threat"]}, {}, False),
        ({"channel": ["email", "chat"]}, {}, True),
        ({"channel": ["email"]}, {}, False),
        ({"follow_up": False}, {}, True),
        ({"follow_up": False}, {"follow_up": True}, False),
        ({"follow_up": True}, {"follow_up": True}, True),
        ({}, {}, True),
        ({"category": ["billing"], "channel": ["email"]}, {}, False),
        ({"category": ["billing"], "channel": ["chat"], "risk_signals": "none"}, {}, True),
    ],
)
def test_ticket_conditions(when: dict[str, Any], changes: dict[str, Any], expected: bool) -> None:
    assert fires(when, **changes) is expected


@pytest.mark.parametrize(
    ("when", "who", "expected"),
    [
        ({"value_score": {"at_least": 70}}, vip(), True),
        ({"value_score": {"at_least": 70}}, customer(), False),
        ({"value_score": {"at_least": 70}}, None, False),
        ({"value_score": {"below": 10}}, None, True),  # an unknown customer scores 0
        ({"tier": ["enterprise", "business"]}, customer(tier="business"), True),
        ({"tier": ["enterprise", "business"]}, customer(tier="free"), False),
        ({"tier": ["free"]}, None, False),  # no customer, no tier
        ({"segment": ["vip"]}, vip(), True),
        ({"segment": ["vip"]}, customer(), False),
        ({"segment": ["basic"]}, None, True),
        ({"region": ["eu", "uk"]}, customer(region="uk"), True),
        ({"region": ["eu"]}, customer(region="us"), False),
        ({"region": ["eu"]}, customer(region=None), False),
        ({"region": ["eu"]}, None, False),
    ],
)
def test_customer_conditions(when: dict[str, Any], who: CustomerFacts | None, expected: bool) -> None:
    assert fires(when, customer=who) is expected


@pytest.mark.parametrize(
    ("window", "at", "expected"),
    [
        ({"days": ["wed"], "hours": {"from": 9, "to": 17}}, WEDNESDAY, True),
        ({"days": ["mon", "tue", "thu"]}, WEDNESDAY, False),
        ({"hours": {"from": 9, "to": 17}}, WEDNESDAY.replace(hour=9, minute=0), True),
        ({"hours": {"from": 9, "to": 17}}, WEDNESDAY.replace(hour=16, minute=59), True),
        ({"hours": {"from": 9, "to": 17}}, WEDNESDAY.replace(hour=17, minute=0), False),
        ({"hours": {"from": 0, "to": 24}}, WEDNESDAY.replace(hour=23, minute=59), True),
        # 10:30 UTC is 06:30 in New York (summer time), 14:00 UTC is 10:00.
        ({"hours": {"from": 9, "to": 17}, "timezone": "America/New_York"}, WEDNESDAY, False),
        ({"hours": {"from": 9, "to": 17}, "timezone": "America/New_York"}, WEDNESDAY.replace(hour=14), True),
        # 20:00 UTC on Wednesday is already 05:00 on Thursday in Tokyo.
        ({"days": ["thu"], "timezone": "Asia/Tokyo"}, WEDNESDAY.replace(hour=20), True),
        ({"days": ["thu"], "timezone": "Asia/Tokyo"}, WEDNESDAY, False),
        # The same instant given in another offset is the same instant.
        ({"days": ["wed"]}, WEDNESDAY.astimezone(timezone(timedelta(hours=14))), True),
    ],
)
def test_time_window(window: dict[str, Any], at: datetime, expected: bool) -> None:
    assert fires({"time": window}, at=at) is expected


# --- what a decision carries -----------------------------------------------------------------------


def test_rule_can_override_the_specialist() -> None:
    policy = policy_with({"category": ["refund"]}, {"specialist": "refunds"})
    overridden = evaluate(policy, inputs(category="refund", specialist="billing"))
    assert overridden["specialist"] == "refunds"
    assert "instead of billing" in overridden["explanation"]
    assert evaluate(policy, inputs(specialist="technical"))["specialist"] == "technical"


def test_unset_then_fields_come_from_defaults_and_segment() -> None:
    policy = policy_with({}, {"priority": "urgent"}, defaults={"path": "human_first", "priority": "low"})
    decision = evaluate(policy, inputs(customer=customer(tier="business")))
    assert (decision["path"], decision["priority"], decision["sla_class"]) == (
        "human_first",
        "urgent",
        "priority",
    )
    assert decision["reason"] == "policy:probe"  # a person must always see why


def test_rule_sla_class_overrides_the_segment() -> None:
    decision = evaluate(policy_with({}, {"sla_class": "vip", "priority": "high"}), inputs())
    assert (decision["segment"], decision["sla_class"]) == ("basic", "vip")
    assert (decision["first_response_minutes"], decision["resolution_minutes"]) == (15, 240)


def test_reason_templates_are_rendered() -> None:
    policy = policy_with(
        {"risk_signals": "any"},
        {"path": "ai_with_human_approval", "reason": "{category}/{segment}:{risk_signals}"},
        defaults={"path": "ai_only", "priority": "normal", "reason": "routine:{category}"},
    )
    risky = evaluate(policy, inputs(risk_signals=("abuse", "legal_threat"), customer=vip()))
    assert risky["reason"] == "billing/vip:abuse,legal_threat"
    assert evaluate(policy, inputs(category="technical"))["reason"] == "routine:technical"


@pytest.mark.parametrize(
    ("who", "segment", "first_response", "resolution"),
    [
        (vip(), "vip", 15, 240),
        (customer(tier="enterprise", annual_contract_value=5000.0), "priority", 30, 480),
        (customer(), "standard", 60, 1440),
        (customer(tier="free", annual_contract_value=0.0), "basic", 240, 2880),
        (None, "basic", 240, 2880),
    ],
)
def test_sla_minutes_follow_the_segment(
    who: CustomerFacts | None, segment: str, first_response: int, resolution: int
) -> None:
    decision = evaluate(DEFAULT, inputs(risk_signals=("chargeback",), customer=who))
    assert (decision["rule"], decision["priority"]) == ("risk-needs-approval", "high")
    assert decision["segment"] == segment
    assert (decision["first_response_minutes"], decision["resolution_minutes"]) == (
        first_response,
        resolution,
    )


def test_value_score_is_carried_and_uses_the_utc_date() -> None:
    # 23:30 at UTC-5 is 04:30 UTC the next day, when the renewal falls due: full renewal points.
    late = datetime(2025, 6, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    decision = evaluate(DEFAULT, inputs(at=late, customer=customer(renewal_date="2025-06-05")))
    assert decision["value_contributions"]["renewal"] == 15.0
    assert decision["value_score"] == pytest.approx(sum(decision["value_contributions"].values()), abs=0.05)


def test_decision_is_plain_json() -> None:
    decision = evaluate(DEFAULT, inputs(customer=vip(), risk_signals=("abuse",)))
    assert json.loads(json.dumps(decision)) == decision
    assert decision["policy_version"] == "v-default"


def test_evaluation_is_deterministic_and_replayable() -> None:
    ticket = inputs(
        risk_signals=("chargeback",),
        customer=customer(churn_signals=["downgrade"], renewal_date="2025-07-01"),
        at=datetime(2025, 6, 4, 12, 0, tzinfo=timezone(timedelta(hours=2))),
    )
    first = evaluate(DEFAULT, ticket)
    assert all(evaluate(DEFAULT, ticket) == first for _ in range(100))
    replayed = PolicyInputs.from_json(json.loads(json.dumps(ticket.to_json())))
    assert replayed == ticket
    assert evaluate(DEFAULT, replayed) == first


def test_inputs_round_trip_without_a_customer() -> None:
    ticket = inputs()
    assert PolicyInputs.from_json(ticket.to_json()) == ticket
    assert ticket.to_json()["at"] == "2025-06-04T10:30:00+00:00"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        inputs(at=datetime(2025, 6, 4, 10, 30))


# --- explanations ----------------------------------------------------------------------------------


def test_explanation_names_segment_rule_conditions_result_and_value() -> None:
    text = evaluate(DEFAULT, inputs(risk_signals=("chargeback",), customer=vip()))["explanation"]
    assert "Segment vip: value score " in text
    assert " ≥ 70." in text
    assert "Rule risk-needs-approval fired (Tickets with risk signals get a specialist draft" in text
    assert "risk signals chargeback matched any." in text
    assert "Path ai_with_human_approval, priority high, SLA class vip" in text
    assert "first response within 15 min, resolution within 4 h." in text
    assert "mostly from contract value 35.00, tier 25.00" in text


def test_explanation_of_defaults_without_customer() -> None:
    text = evaluate(DEFAULT, inputs())["explanation"]
    assert "Segment basic: no customer is known" in text
    assert "No rule matched, so the defaults apply." in text
    assert "first response within 8 h, resolution within 3 days." in text
    assert "value score is 0" in text


def test_explanation_lists_every_matched_condition() -> None:
    text = evaluate(DEFAULT, inputs(specialist="general", category="other", confidence=0.3))["explanation"]
    assert "Rule person-for-unclear-general fired" in text
    assert "specialist general is one of general; confidence 0.3 < 0.5; follow-up is false." in text
    tier_text = evaluate(DEFAULT, inputs(customer=customer(tier="business")))["explanation"]
    assert "Segment priority: tier business is one of enterprise, business." in tier_text
