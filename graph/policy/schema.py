"""The policy document: its YAML schema, validation with field-path errors, loading and digest."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from agents.specialists.routing import Specialist
from agents.triage.dataset import Category
from agents.triage.risk import RiskSignal

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"

Tier = Literal["enterprise", "business", "standard", "free"]
RoutePath = Literal["ai_only", "ai_with_human_approval", "human_first"]
Priority = Literal["urgent", "high", "normal", "low"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

TIERS: tuple[Tier, ...] = get_args(Tier)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
RISK_SIGNALS: tuple[RiskSignal, ...] = get_args(RiskSignal)
REASON_PLACEHOLDERS = ("risk_signals", "category", "segment")
NO_RULE = "defaults"  # the `rule` of a decision no rule made, so no rule may take this id

T = TypeVar("T")
NonEmpty = Annotated[list[T], Field(min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
Share = Annotated[float, Field(ge=0, le=1)]


class PolicyError(ValueError):
    """A policy that cannot be used; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    """Every part of a policy: unknown keys are refused and nothing changes after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A half-open interval [at_least, below); either end may be left open."""

    at_least: float | None = Field(default=None, description="Inclusive lower bound.")
    below: float | None = Field(default=None, description="Exclusive upper bound.")

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.at_least is None and self.below is None:
            raise ValueError("set at_least, below or both")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError(f"at_least ({self.at_least:g}) must be less than below ({self.below:g})")
        return self

    def contains(self, value: float) -> bool:
        """Whether the value lies in [at_least, below)."""
        above = self.at_least is None or value >= self.at_least
        under = self.below is None or value < self.below
        return above and under

    def describe(self) -> str:
        """The bounds as a reader would write them: `≥ 70`, `< 0.5` or `in [0.2, 0.5)`."""
        if self.below is None:
            return f"≥ {self.at_least:g}"
        if self.at_least is None:
            return f"< {self.below:g}"
        return f"in [{self.at_least:g}, {self.below:g})"


class ConfidenceRange(Range):
    """A range of triage confidence, which lies in 0..1."""

    at_least: float | None = Field(default=None, ge=0, le=1, description="Inclusive lower bound, 0..1.")
    below: float | None = Field(default=None, ge=0, le=1, description="Exclusive upper bound, 0..1.")


class ScoreRange(Range):
    """A range of customer value score, which lies in 0..100."""

    at_least: float | None = Field(default=None, ge=0, le=100, description="Inclusive lower bound, 0..100.")
    below: float | None = Field(default=None, ge=0, le=100, description="Exclusive upper bound, 0..100.")


class ContractValueWeight(_Strict):
    """Points for annual contract value, log-scaled up to `full_at`."""

    weight: float = Field(ge=0, description="Points a customer at or above `full_at` earns.")
    full_at: float = Field(gt=0, description="Annual contract value that earns the full weight.")


class TierWeight(_Strict):
    """Points for the customer's plan tier."""

    weight: float = Field(ge=0, description="Points a tier at level 1 earns.")
    levels: dict[Tier, Share] = Field(description="Share of the weight (0..1) for each of the four tiers.")

    @field_validator("levels")
    @classmethod
    def _every_tier(cls, levels: dict[Tier, float]) -> dict[Tier, float]:
        missing = [tier for tier in TIERS if tier not in levels]
        if missing:
            raise ValueError(f"missing tier(s) {', '.join(missing)}; list all of {', '.join(TIERS)}")
        return {tier: levels[tier] for tier in TIERS}  # a fixed order, so diffs show content changes only


class RenewalWeight(_Strict):
    """Points for a renewal coming up soon, falling linearly to zero at `within_days`."""

    weight: float = Field(ge=0, description="Points when the renewal is today.")
    within_days: int = Field(gt=0, description="Days ahead at which a renewal stops counting.")


class CountWeight(_Strict):
    """Points for a count (churn signals, open incidents), linear up to `full_at`."""

    weight: float = Field(ge=0, description="Points at or above `full_at`.")
    full_at: int = Field(gt=0, description="The count that earns the full weight.")


class ValueWeights(_Strict):
    """How the 0..100 customer value score is made up; the five weights sum to 100."""

    contract_value: ContractValueWeight = Field(description="Annual contract value.")
    tier: TierWeight = Field(description="Plan tier.")
    renewal: RenewalWeight = Field(description="Closeness of the next renewal.")
    churn_risk: CountWeight = Field(description="Number of churn signals on the account.")
    open_incidents: CountWeight = Field(description="Number of open incidents on the account.")

    @model_validator(mode="after")
    def _sum_to_100(self) -> ValueWeights:
        parts = (self.contract_value, self.tier, self.renewal, self.churn_risk, self.open_incidents)
        total = sum(part.weight for part in parts)
        if abs(total - 100) > 1e-6:
            raise ValueError(f"the five weights must sum to 100, they sum to {total:g}")
        return self


class CustomerMatch(_Strict):
    """Which customers a segment holds; all conditions given must hold."""

    value_score: ScoreRange | None = Field(default=None, description="Range of the value score.")
    tier: NonEmpty[Tier] | None = Field(default=None, description="Any of these tiers.")
    region: NonEmpty[str] | None = Field(default=None, description="Any of these regions.")

    def is_empty(self) -> bool:
        """True when no condition is set, so every customer matches."""
        return self.value_score is None and self.tier is None and self.region is None


class Segment(_Strict):
    """A customer segment; segments are tried in order and the first match wins."""

    name: Slug = Field(description="Segment name, lowercase letters, digits and dashes.")
    when: CustomerMatch | None = Field(default=None, description="Who belongs; absent on the catch-all.")
    sla_class: str = Field(description="The SLA class (a key of `slas`) for this segment.")


class SlaTarget(_Strict):
    """Response targets for one SLA class and priority."""

    first_response_minutes: int = Field(gt=0, description="Minutes to the first reply.")
    resolution_minutes: int = Field(gt=0, description="Minutes to resolution.")

    @model_validator(mode="after")
    def _resolution_after_response(self) -> SlaTarget:
        if self.resolution_minutes < self.first_response_minutes:
            raise ValueError(
                f"resolution_minutes ({self.resolution_minutes}) is shorter than "
                f"first_response_minutes ({self.first_response_minutes})"
            )
        return self


class HourRange(_Strict):
    """Hours of the day [from, to) in the window's time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: int = Field(alias="from", ge=0, le=23, description="First hour inside the window, 0..23.")
    to: int = Field(ge=1, le=24, description="First hour after the window, 1..24.")

    @model_validator(mode="after")
    def _ordered(self) -> HourRange:
        if self.to <= self.from_:
            raise ValueError(
                f"to ({self.to}) must be after from ({self.from_}); windows do not wrap midnight"
            )
        return self


class TimeWindow(_Strict):
    """Days and hours, in a time zone, when a rule applies."""

    days: NonEmpty[Weekday] | None = Field(default=None, description="Any of these weekdays.")
    hours: HourRange | None = Field(default=None, description="Hours of the day [from, to).")
    timezone: str = Field(default="UTC", description="IANA time zone the days and hours are in.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.days is None and self.hours is None:
            raise ValueError("set days, hours or both")
        return self


class Match(_Strict):
    """The `when` of a rule: every condition given must hold; a list matches any of its items."""

    category: NonEmpty[Category] | None = Field(default=None, description="Any of these triage categories.")
    specialist: NonEmpty[Specialist] | None = Field(default=None, description="Any of these specialists.")
    confidence: ConfidenceRange | None = Field(default=None, description="Range of triage confidence.")
    risk_signals: Literal["any", "none"] | NonEmpty[RiskSignal] | None = Field(
        default=None, description="`any`, `none`, or a list of signals of which any must be present."
    )
    value_score: ScoreRange | None = Field(default=None, description="Range of the customer value score.")
    tier: NonEmpty[Tier] | None = Field(default=None, description="Any of these customer tiers.")
    segment: NonEmpty[str] | None = Field(default=None, description="Any of these segment names.")
    channel: NonEmpty[str] | None = Field(default=None, description="Any of these channels.")
    region: NonEmpty[str] | None = Field(default=None, description="Any of these customer regions.")
    follow_up: bool | None = Field(default=None, description="Whether the turn continues a known issue.")
    time: TimeWindow | None = Field(default=None, description="When the ticket arrives.")

    @field_validator("risk_signals", mode="before")
    @classmethod
    def _known_signals(cls, value: Any) -> Any:
        # Checked here because pydantic's own union errors name internal union members, not the field.
        expected = f"'any', 'none' or a non-empty list of: {', '.join(RISK_SIGNALS)}"
        if isinstance(value, str) and value not in ("any", "none"):
            raise ValueError(f"{value!r} is not {expected}")
        if isinstance(value, list):
            unknown = [str(item) for item in value if item not in RISK_SIGNALS]
            if unknown or not value:
                raise ValueError(
                    f"unknown signal(s) {', '.join(unknown) or '(empty list)'}; expected {expected}"
                )
        elif value is not None and not isinstance(value, str):
            raise ValueError(f"expected {expected}")
        return value


def _check_template(template: str | None) -> str | None:
    """The template unchanged, or a ValueError when it uses anything but the known placeholders."""
    if template is None:
        return None
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise ValueError(f"not a valid template ({error}); write literal braces as {{{{ and }}}}") from None
    unknown = sorted({name for name in names if name not in REASON_PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in REASON_PLACEHOLDERS)
        raise ValueError(f"unknown placeholder(s) {', '.join(repr(n) for n in unknown)}; use only {allowed}")
    return template


class Decision(_Strict):
    """The `then` of a rule; fields left out come from the defaults and the customer's segment."""

    path: RoutePath | None = Field(default=None, description="How the ticket is handled.")
    priority: Priority | None = Field(default=None, description="Queue priority.")
    sla_class: str | None = Field(default=None, description="SLA class, instead of the segment's.")
    specialist: Specialist | None = Field(default=None, description="Specialist, instead of triage's.")
    reason: str | None = Field(
        default=None, description="Reason template; may use {risk_signals}, {category}, {segment}."
    )

    @field_validator("reason")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        return _check_template(value)


class Defaults(_Strict):
    """What applies when no rule matches or a rule leaves a field out."""

    path: RoutePath = Field(description="Default path.")
    priority: Priority = Field(description="Default priority.")
    reason: str | None = Field(default=None, description="Default reason template.")

    @field_validator("reason")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        return _check_template(value)


class Rule(_Strict):
    """One routing rule; rules are tried in order and the first whose `when` holds decides."""

    id: Slug = Field(description="Stable rule id, lowercase letters, digits and dashes.")
    description: str = Field(min_length=1, description="Why the rule exists, in one sentence.")
    when: Match = Field(
        default_factory=Match, description="Conditions; absent or empty matches every ticket."
    )
    then: Decision = Field(description="What the rule decides.")


class PolicyDocument(_Strict):
    """A whole routing policy as written in YAML."""

    name: str = Field(min_length=1, description="Policy name.")
    description: str = Field(description="What this policy is for.")
    value: ValueWeights = Field(description="How the customer value score is computed.")
    segments: NonEmpty[Segment] = Field(description="Customer segments, first match wins; last is catch-all.")
    slas: dict[str, dict[Priority, SlaTarget]] = Field(description="SLA class -> priority -> targets.")
    defaults: Defaults = Field(description="What applies when no rule decides.")
    rules: list[Rule] = Field(description="Routing rules, first match wins.")

    @field_validator("slas")
    @classmethod
    def _sla_order(cls, slas: dict[str, dict[Priority, SlaTarget]]) -> dict[str, dict[Priority, SlaTarget]]:
        # Key order means nothing here; a fixed one keeps the canonical YAML and its diffs free of noise.
        return {name: {p: slas[name][p] for p in PRIORITIES if p in slas[name]} for name in sorted(slas)}

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDocument:
        problems = _rule_problems(self) + _segment_problems(self) + _sla_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _rule_problems(document: PolicyDocument) -> list[str]:
    """Duplicate rule ids and rules naming segments or SLA classes that do not exist."""
    problems: list[str] = []
    first_index: dict[str, int] = {}
    segments = [segment.name for segment in document.segments]
    for index, rule in enumerate(document.rules):
        where = f"rules[{index}]"
        if rule.id in first_index:
            problems.append(f"{where}.id: duplicate rule id {rule.id!r} (also rules[{first_index[rule.id]}])")
        first_index.setdefault(rule.id, index)
        if rule.id == NO_RULE:
            problems.append(f"{where}.id: {NO_RULE!r} is reserved for decisions no rule made")
        for name in rule.when.segment or []:
            if name not in segments:
                known = ", ".join(segments)
                problems.append(
                    f"{where}.when.segment: unknown segment {name!r} in rule {rule.id}; known: {known}"
                )
        sla_class = rule.then.sla_class
        if sla_class is not None and sla_class not in document.slas:
            problems.append(
                f"{where}.then.sla_class: unknown SLA class {sla_class!r} in rule {rule.id}; "
                f"known: {', '.join(document.slas)}"
            )
    return problems


def _segment_problems(document: PolicyDocument) -> list[str]:
    """Duplicate names, unknown SLA classes, and a missing or misplaced catch-all."""
    problems: list[str] = []
    seen: set[str] = set()
    last = len(document.segments) - 1
    for index, segment in enumerate(document.segments):
        where = f"segments[{index}]"
        if segment.name in seen:
            problems.append(f"{where}.name: duplicate segment name {segment.name!r}")
        seen.add(segment.name)
        if segment.sla_class not in document.slas:
            problems.append(
                f"{where}.sla_class: unknown SLA class {segment.sla_class!r} in segment {segment.name}; "
                f"known: {', '.join(document.slas)}"
            )
        catch_all = segment.when is None or segment.when.is_empty()
        if index == last and not catch_all:
            problems.append(
                f"{where}.when: the last segment ({segment.name}) must have no 'when' so every customer "
                "lands in a segment"
            )
        if index < last and catch_all:
            problems.append(
                f"{where}.when: only the last segment may match everyone; the ones after are unused"
            )
    return problems


def _sla_problems(document: PolicyDocument) -> list[str]:
    """SLA classes that do not give targets for all four priorities."""
    problems: list[str] = []
    for name, targets in document.slas.items():
        missing = [priority for priority in PRIORITIES if priority not in targets]
        if missing:
            problems.append(
                f"slas.{name}: missing priority {', '.join(missing)}; give all of {', '.join(PRIORITIES)}"
            )
    return problems


def _field_path(loc: tuple[int | str, ...]) -> str:
    """`('rules', 2, 'when')` as `rules[2].when`, the way the YAML reads."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":  # pydantic's marker for a bad dict key, which is already in the path
            path += f".{part}" if path else part
    return path


def _describe(error: ErrorDetails) -> list[str]:
    """One line per problem in a pydantic error, each led by its field path."""
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    message = message.removeprefix("Value error, ")
    where = _field_path(error["loc"])
    if not where:  # document-level checks already lead each line with its path
        return message.splitlines()
    return [f"{where}: {message}"]


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys, which PyYAML would silently overwrite."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(text: str) -> dict[str, Any]:
    """The top-level mapping of a YAML text, or a PolicyError naming the line and column."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise PolicyError([f"{where}YAML syntax error: {error.problem}"]) from None
    except yaml.YAMLError as error:
        raise PolicyError([f"YAML syntax error: {error}"]) from None
    if data is None:
        raise PolicyError(["the policy is empty"])
    if not isinstance(data, dict):
        raise PolicyError([f"the policy must be a YAML mapping of sections, not {type(data).__name__}"])
    return data


def parse_policy(text: str) -> PolicyDocument:
    """The policy in a YAML text; a PolicyError lists every problem found."""
    data = _read_yaml(text)
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as error:
        raise PolicyError([line for detail in error.errors() for line in _describe(detail)]) from None


def load_policy_file(path: Path) -> PolicyDocument:
    """The policy in a YAML file; problems are prefixed with the file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError([f"{path}: cannot read ({error})"]) from None
    try:
        return parse_policy(text)
    except PolicyError as error:
        raise PolicyError([f"{path}: {problem}" for problem in error.problems]) from None


def document_digest(document: PolicyDocument) -> str:
    """sha256 of the document's canonical JSON: same content, same digest, however it was written."""
    canonical = json.dumps(
        document.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def policy_digest(text: str) -> str:
    """The digest of the policy in a YAML text; comments and layout do not change it."""
    return document_digest(parse_policy(text))
