"""Evaluate a policy for one ticket: segment, first matching rule, path, priority, SLA, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from typing_extensions import TypedDict

from graph.policy.schema import (
    NO_RULE,
    WEEKDAYS,
    CustomerMatch,
    Decision,
    Match,
    PolicyDocument,
    Range,
    Rule,
    Segment,
    TimeWindow,
)
from graph.policy.value import CustomerFacts, ValueScore, score_value


@dataclass(frozen=True, kw_only=True)
class PolicyInputs:
    """Everything a policy decides on; written to the audit log so that a decision can be replayed."""

    category: str
    confidence: float
    risk_signals: tuple[str, ...]
    follow_up: bool
    specialist: str
    channel: str
    at: datetime
    customer: CustomerFacts | None

    def __post_init__(self) -> None:
        # Time windows and renewal days depend on the instant; a naive time has no instant.
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("PolicyInputs.at must be timezone-aware, e.g. datetime.now(UTC)")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values; `from_json` turns them back into equal inputs."""
        return {
            "category": self.category,
            "confidence": self.confidence,
            "risk_signals": list(self.risk_signals),
            "follow_up": self.follow_up,
            "specialist": self.specialist,
            "channel": self.channel,
            "at": self.at.isoformat(),
            "customer": None if self.customer is None else _customer_from_json(self.customer),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyInputs:
        """The inputs `to_json` wrote."""
        customer = data["customer"]
        return cls(
            category=str(data["category"]),
            confidence=float(data["confidence"]),
            risk_signals=tuple(str(signal) for signal in data["risk_signals"]),
            follow_up=bool(data["follow_up"]),
            specialist=str(data["specialist"]),
            channel=str(data["channel"]),
            at=datetime.fromisoformat(str(data["at"])),
            customer=None if customer is None else _customer_from_json(customer),
        )


def _customer_from_json(data: Mapping[str, Any]) -> CustomerFacts:
    """A fresh copy with the declared types, so a replayed customer equals the recorded one."""
    return CustomerFacts(
        customer_id=str(data["customer_id"]),
        tier=str(data["tier"]),
        annual_contract_value=float(data["annual_contract_value"]),
        renewal_date=None if data["renewal_date"] is None else str(data["renewal_date"]),
        churn_signals=[str(signal) for signal in data["churn_signals"]],
        open_incidents=int(data["open_incidents"]),
        region=None if data["region"] is None else str(data["region"]),
    )


@dataclass(frozen=True)
class Policy:
    """A policy document with the version it was published under."""

    version: str
    document: PolicyDocument


class PolicyDecision(TypedDict):
    """What the policy decided for one ticket, with the reasons; JSON types only."""

    policy_version: str
    rule: str
    """The id of the rule that fired, or `defaults`."""
    path: str
    priority: str
    sla_class: str
    segment: str
    specialist: str
    """The rule's specialist when it sets one, else the one triage chose."""
    reason: str | None
    """The rendered reason; None when the path is ai_only and nothing gave a reason."""
    value_score: float
    value_contributions: dict[str, float]
    first_response_minutes: int
    resolution_minutes: int
    explanation: str


class Check(NamedTuple):
    """One condition of a `when`: whether it held, and how it reads in an explanation."""

    matched: bool
    detail: str


def _one_of(label: str, actual: str | None, allowed: Sequence[str]) -> Check:
    shown = "unknown" if actual is None else actual
    return Check(actual is not None and actual in allowed, f"{label} {shown} is one of {', '.join(allowed)}")


def _in_range(label: str, actual: float, bounds: Range) -> Check:
    return Check(bounds.contains(actual), f"{label} {actual:g} {bounds.describe()}")


def _risk(signals: tuple[str, ...], condition: str | Sequence[str]) -> Check:
    shown = ", ".join(signals) or "none"
    if condition == "any":
        return Check(bool(signals), f"risk signals {shown} matched any")
    if condition == "none":
        return Check(not signals, f"risk signals {shown} matched none")
    matched = any(signal in condition for signal in signals)
    return Check(matched, f"risk signals {shown} matched one of {', '.join(condition)}")


def _time(at: datetime, window: TimeWindow) -> Check:
    local = at.astimezone(ZoneInfo(window.timezone))
    day = WEEKDAYS[local.weekday()]
    day_ok = window.days is None or day in window.days
    hours = window.hours
    hour_ok = hours is None or hours.from_ <= local.hour < hours.to
    wanted = [", ".join(window.days)] if window.days else []
    if hours is not None:
        wanted.append(f"{hours.from_:02d}:00-{hours.to:02d}:00")
    detail = f"time {day} {local:%H:%M} {window.timezone} is within {' '.join(wanted)}"
    return Check(day_ok and hour_ok, detail)


def _customer_checks(
    when: CustomerMatch | Match, customer: CustomerFacts | None, value_score: float
) -> list[Check]:
    """Checks on who the customer is. Without a customer, tier and region never match."""
    checks: list[Check] = []
    if when.value_score is not None:
        checks.append(_in_range("value score", value_score, when.value_score))
    if when.tier is not None:
        checks.append(_one_of("tier", None if customer is None else customer["tier"], when.tier))
    if when.region is not None:
        checks.append(_one_of("region", None if customer is None else customer["region"], when.region))
    return checks


def _ticket_checks(when: Match, inputs: PolicyInputs) -> list[Check]:
    """Checks on the ticket itself."""
    checks: list[Check] = []
    if when.category is not None:
        checks.append(_one_of("category", inputs.category, when.category))
    if when.specialist is not None:
        checks.append(_one_of("specialist", inputs.specialist, when.specialist))
    if when.confidence is not None:
        checks.append(_in_range("confidence", inputs.confidence, when.confidence))
    if when.risk_signals is not None:
        checks.append(_risk(inputs.risk_signals, when.risk_signals))
    if when.channel is not None:
        checks.append(_one_of("channel", inputs.channel, when.channel))
    if when.follow_up is not None:
        checks.append(
            Check(inputs.follow_up == when.follow_up, f"follow-up is {str(inputs.follow_up).lower()}")
        )
    if when.time is not None:
        checks.append(_time(inputs.at, when.time))
    return checks


def rule_checks(when: Match, inputs: PolicyInputs, value_score: float, segment: str) -> list[Check]:
    """Every condition of a rule's `when`, ticket conditions first; an empty `when` has none."""
    checks = _ticket_checks(when, inputs) + _customer_checks(when, inputs.customer, value_score)
    if when.segment is not None:
        checks.append(_one_of("segment", segment, when.segment))
    return checks


def matching_rule(
    document: PolicyDocument, inputs: PolicyInputs, value_score: float, segment: str
) -> Rule | None:
    """The first rule whose conditions all hold, or None."""
    for rule in document.rules:
        if all(check.matched for check in rule_checks(rule.when, inputs, value_score, segment)):
            return rule
    return None


def choose_segment(document: PolicyDocument, customer: CustomerFacts | None, value_score: float) -> Segment:
    """The first segment the customer belongs to; the last segment is a catch-all, so there always is one."""
    for segment in document.segments:
        if segment.when is None:
            return segment
        if all(check.matched for check in _customer_checks(segment.when, customer, value_score)):
            return segment
    raise AssertionError("a validated policy ends with a catch-all segment")


def _render_reason(
    template: str | None, path: str, rule: str, inputs: PolicyInputs, segment: str
) -> str | None:
    if template is None:
        # A person reading the ticket must always see why it reached them.
        return None if path == "ai_only" else f"policy:{rule}"
    return template.format(
        risk_signals=",".join(inputs.risk_signals), category=inputs.category, segment=segment
    )


def evaluate(policy: Policy, inputs: PolicyInputs) -> PolicyDecision:
    """The policy's decision for one ticket: pure, so replaying the same inputs gives the same decision."""
    document = policy.document
    value = score_value(document.value, inputs.customer, inputs.at.astimezone(UTC).date())
    segment = choose_segment(document, inputs.customer, value["score"])
    rule = matching_rule(document, inputs, value["score"], segment.name)
    then = rule.then if rule is not None else Decision()
    rule_id = rule.id if rule is not None else NO_RULE
    path = then.path or document.defaults.path
    priority = then.priority or document.defaults.priority
    sla_class = then.sla_class or segment.sla_class
    template = then.reason if then.reason is not None else document.defaults.reason
    target = document.slas[sla_class][priority]
    decision = PolicyDecision(
        policy_version=policy.version,
        rule=rule_id,
        path=path,
        priority=priority,
        sla_class=sla_class,
        segment=segment.name,
        specialist=then.specialist or inputs.specialist,
        reason=_render_reason(template, path, rule_id, inputs, segment.name),
        value_score=value["score"],
        value_contributions=dict(value["contributions"]),
        first_response_minutes=target.first_response_minutes,
        resolution_minutes=target.resolution_minutes,
        explanation="",
    )
    decision["explanation"] = explain(segment, rule, inputs, value, decision)
    return decision


def _duration(minutes: int) -> str:
    """`15 min`, `4 h`, `1 h 30 min`, `3 days`."""
    if minutes < 60:
        return f"{minutes} min"
    days, rest = divmod(minutes, 1440)
    if rest == 0:
        return f"{days} day" if days == 1 else f"{days} days"
    hours, mins = divmod(minutes, 60)
    return f"{hours} h" if mins == 0 else f"{hours} h {mins} min"


def _explain_segment(segment: Segment, inputs: PolicyInputs, value_score: float) -> str:
    checks = [] if segment.when is None else _customer_checks(segment.when, inputs.customer, value_score)
    if checks:
        return f"Segment {segment.name}: {'; '.join(check.detail for check in checks)}."
    if inputs.customer is None:
        return f"Segment {segment.name}: no customer is known, so the catch-all segment applies."
    return f"Segment {segment.name}: no earlier segment matched, so the catch-all segment applies."


def _explain_rule(rule: Rule | None, inputs: PolicyInputs, value_score: float, segment: str) -> str:
    if rule is None:
        return "No rule matched, so the defaults apply."
    checks = rule_checks(rule.when, inputs, value_score, segment)
    matched = "; ".join(check.detail for check in checks) or "it applies to every ticket"
    return f"Rule {rule.id} fired ({rule.description.rstrip('.')}): {matched}."


def _explain_result(decision: PolicyDecision, inputs: PolicyInputs) -> str:
    text = (
        f"Path {decision['path']}, priority {decision['priority']}, SLA class {decision['sla_class']}: "
        f"first response within {_duration(decision['first_response_minutes'])}, "
        f"resolution within {_duration(decision['resolution_minutes'])}."
    )
    if decision["specialist"] != inputs.specialist:
        text += f" The rule sends it to {decision['specialist']} instead of {inputs.specialist}."
    return text


def _explain_value(value: ValueScore, customer: CustomerFacts | None) -> str:
    if customer is None:
        return "No customer is known, so the value score is 0."
    ranked = sorted(value["contributions"].items(), key=lambda item: (-item[1], item[0]))
    top = [f"{name.replace('_', ' ')} {points:.2f}" for name, points in ranked[:3] if points > 0]
    if not top:
        return f"Value score {value['score']:g}: no signal contributed."
    return f"Value score {value['score']:g}, mostly from {', '.join(top)}."


def explain(
    segment: Segment, rule: Rule | None, inputs: PolicyInputs, value: ValueScore, decision: PolicyDecision
) -> str:
    """A readable paragraph: the segment and why, the rule and what it matched, the result, the value."""
    return " ".join(
        (
            _explain_segment(segment, inputs, value["score"]),
            _explain_rule(rule, inputs, value["score"], segment.name),
            _explain_result(decision, inputs),
            _explain_value(value, inputs.customer),
        )
    )
