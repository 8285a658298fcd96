"""The customer value score: what a customer is worth to the business, 0..100, with its parts."""

from __future__ import annotations

import math
from datetime import date

from typing_extensions import TypedDict

from graph.policy.schema import ContractValueWeight, CountWeight, RenewalWeight, TierWeight, ValueWeights

SIGNALS = ("contract_value", "tier", "renewal", "churn_risk", "open_incidents")


class CustomerFacts(TypedDict):
    """What enrichment knows about the customer; plain JSON types because it lives in graph state."""

    customer_id: str
    tier: str
    annual_contract_value: float
    renewal_date: str | None
    """ISO date (YYYY-MM-DD) of the next renewal, when known."""
    churn_signals: list[str]
    open_incidents: int
    region: str | None


class ValueScore(TypedDict):
    """The score and the points each of the five signals contributed to it."""

    score: float
    """0..100, rounded to one decimal."""
    contributions: dict[str, float]
    """Points per signal, rounded to two decimals, keyed as in SIGNALS."""


def contract_value_share(weight: ContractValueWeight, annual_contract_value: float) -> float:
    """Log-scaled so that going from 1k to 10k counts as much as from 10k to 100k, capped at 1."""
    if annual_contract_value <= 0:
        return 0.0
    return min(1.0, math.log10(1 + annual_contract_value) / math.log10(1 + weight.full_at))


def tier_share(weight: TierWeight, tier: str) -> float:
    """The tier's level; a tier the policy does not know counts 0."""
    levels: dict[str, float] = {str(name): level for name, level in weight.levels.items()}
    return levels.get(tier, 0.0)


def renewal_share(weight: RenewalWeight, renewal_date: str | None, today: date) -> float:
    """1 for a renewal due today, falling linearly to 0 at `within_days`; past or unknown renewals give 0."""
    if renewal_date is None:
        return 0.0
    try:
        due = date.fromisoformat(renewal_date)
    except ValueError:
        raise ValueError(f"renewal_date {renewal_date!r} is not an ISO date (YYYY-MM-DD)") from None
    days = (due - today).days
    if days < 0 or days >= weight.within_days:
        return 0.0
    return 1.0 - days / weight.within_days


def count_share(weight: CountWeight, count: int) -> float:
    """Linear up to `full_at`, capped at 1."""
    return min(1.0, max(0, count) / weight.full_at)


def _shares(weights: ValueWeights, customer: CustomerFacts, today: date) -> dict[str, float]:
    return {
        "contract_value": contract_value_share(weights.contract_value, customer["annual_contract_value"]),
        "tier": tier_share(weights.tier, customer["tier"]),
        "renewal": renewal_share(weights.renewal, customer["renewal_date"], today),
        "churn_risk": count_share(weights.churn_risk, len(customer["churn_signals"])),
        "open_incidents": count_share(weights.open_incidents, customer["open_incidents"]),
    }


def _points(weights: ValueWeights) -> dict[str, float]:
    return {
        "contract_value": weights.contract_value.weight,
        "tier": weights.tier.weight,
        "renewal": weights.renewal.weight,
        "churn_risk": weights.churn_risk.weight,
        "open_incidents": weights.open_incidents.weight,
    }


def score_value(weights: ValueWeights, customer: CustomerFacts | None, today: date) -> ValueScore:
    """The customer's value score; an unknown customer scores 0 on every signal."""
    if customer is None:
        return ValueScore(score=0.0, contributions={signal: 0.0 for signal in SIGNALS})
    shares = _shares(weights, customer, today)
    full = _points(weights)
    points = {signal: full[signal] * shares[signal] for signal in SIGNALS}
    score = min(100.0, max(0.0, sum(points.values())))
    return ValueScore(
        score=round(score, 1),
        contributions={signal: round(value, 2) for signal, value in points.items()},
    )
