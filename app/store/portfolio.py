"""A deterministic demo portfolio of fictional Lumora customers, and a row's routing facts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from app.store.models import Customer
from graph.customers import churn_signals
from graph.policy.value import CustomerFacts

DEMO_EPOCH = date(2026, 11, 1)
"""The demo's "today": renewal dates are counted from it, never from the clock, so every seed is identical."""

VIP_ID = "cus_vip"
FREE_ID = "cus_free"

TIERS = ("enterprise", "business", "standard", "free")
TIER_WEIGHTS = (5, 20, 45, 30)
ACV_RANGE = {"enterprise": (120_000, 900_000), "business": (15_000, 120_000), "standard": (600, 15_000)}
PLAN_OF_TIER = {
    "enterprise": "Premium plan",
    "business": "Premium plan",
    "standard": "Plus plan",
    "free": "Free plan",
}
# Products the help centre describes (knowledge/articles): a customer holds a plan and up to three of these.
ADD_ONS = (
    "Lumora Wallet",
    "Lumora Card",
    "Virtual cards",
    "Lumora Market",
    "Pay-in-3",
    "Lumora Rewards",
    "Currency exchange",
)
REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "apac", "latam")
CHANNELS = ("chat", "email", "phone")
CHURN_VOCABULARY = (
    "usage_drop",
    "downgrade_enquiry",
    "competitor_mention",
    "payment_failures",
    "champion_left",
)
OPEN_INCIDENTS = (0, 1, 2, 3, 4)
OPEN_INCIDENT_WEIGHTS = (78, 14, 5, 2, 1)

# Invented stems so that no generated name is a real company.
COMPANY_STEMS = (
    "Brightmere", "Quillon", "Vantora", "Halvik", "Corvella", "Ostrane", "Pellwick", "Tamsora", "Elderbay",
    "Fjordlin", "Granvale", "Kestrova", "Lunequay", "Marrowind", "Nethervale", "Orvanta", "Selvarin",
    "Ravelton", "Sarnelle", "Tovrenna", "Umberlake", "Velloria", "Wrenhaven", "Yarrowfield", "Zephyrine",
)  # fmt: skip
COMPANY_TRADES = (
    "Analytics", "Logistics", "Robotics", "Foods", "Outfitters", "Health", "Studios", "Textiles", "Freight",
    "Energy", "Labs", "Hospitality", "Print Works", "Dental", "Architects", "Mobility", "Software",
)  # fmt: skip
COMPANY_FORMS = ("GmbH", "Ltd", "Inc.", "S.A.", "B.V.", "Pty Ltd", "AB", "LLC", "S.r.l.", "Oy")
FIRST_NAMES = (
    "Amara", "Bastian", "Chiara", "Dmitri", "Elin", "Farah", "Gustavo", "Hana", "Idris", "Jonas", "Keiko",
    "Luca", "Maren", "Nikhil", "Olivia", "Priya", "Quentin", "Rosa", "Soren", "Talia", "Ugo", "Valeria",
    "Wiktor", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abernathy", "Brandt", "Castellanos", "Delacroix", "Eriksen", "Fontaine", "Gallagher", "Haddad",
    "Ishikawa", "Jovanovic", "Kowalczyk", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrova", "Quiroga",
    "Rahman", "Sandoval", "Takahashi", "Urquhart", "Verhoeven", "Whitlock", "Yilmaz", "Zielinski",
)  # fmt: skip


def fixed_customers(today: date = DEMO_EPOCH) -> list[Customer]:
    """The two customers docs and tests rely on: a renewing enterprise account in trouble and a free user."""
    as_of = _as_of(today)
    vip = Customer(
        id=VIP_ID,
        name="Northwind Analytics GmbH",
        tier="enterprise",
        annual_contract_value=480_000.0,
        products=["Premium plan", "Lumora Wallet", "Lumora Card", "Virtual cards"],
        region="eu-central",
        preferred_channel="phone",
        open_incidents=1,
        recent_tickets=7,
        satisfaction=2.6,  # below 3 adds low_satisfaction, so it stays VIP after its demo renewal date
        renewal_date=today + timedelta(days=20),
        churn_signals=["usage_drop"],
        updated_at=as_of,
    )
    free = Customer(
        id=FREE_ID,
        name="Sam Rivera",
        tier="free",
        annual_contract_value=0.0,
        products=["Free plan", "Lumora Wallet"],
        region="us-east",
        preferred_channel="chat",
        open_incidents=0,
        recent_tickets=0,
        satisfaction=None,
        renewal_date=None,
        churn_signals=[],
        updated_at=as_of,
    )
    return [vip, free]


def demo_portfolio(count: int = 300, today: date = DEMO_EPOCH, seed: int = 7) -> list[Customer]:
    """`count` customers (the two fixed ones first), identical for the same arguments on every machine."""
    if count < 2:
        raise ValueError("count must be at least 2: the portfolio always holds the two fixed customers")
    rng = random.Random(seed)
    customers = fixed_customers(today)
    for number in range(1, count - len(customers) + 1):
        customers.append(_generated(rng, f"cus_{number:04d}", today))
    return customers


def facts_of(customer: Customer) -> CustomerFacts:
    """The routing facts of a row: only what the policy decides on, with churn risk derived the shared way."""
    return CustomerFacts(
        customer_id=customer.id,
        tier=customer.tier,
        annual_contract_value=float(customer.annual_contract_value),
        renewal_date=customer.renewal_date.isoformat() if customer.renewal_date is not None else None,
        churn_signals=churn_signals(customer.churn_signals, customer.satisfaction),
        open_incidents=int(customer.open_incidents),
        region=customer.region,
    )


def _as_of(today: date) -> datetime:
    # The rows carry the demo's date, not the clock, so two seeds compare equal field by field.
    return datetime.combine(today, time(0), tzinfo=UTC)


def _generated(rng: random.Random, customer_id: str, today: date) -> Customer:
    tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
    is_free = tier == "free"
    recent_tickets = rng.randint(0, 12)
    satisfaction = None if is_free and recent_tickets == 0 else _satisfaction(rng)
    low, high = ACV_RANGE.get(tier, (0, 0))
    # Businesses sign contracts; free and most standard accounts are people.
    company = tier in ("enterprise", "business") or (tier == "standard" and rng.random() < 0.4)
    return Customer(
        id=customer_id,
        name=_company_name(rng) if company else _person_name(rng),
        tier=tier,
        annual_contract_value=0.0 if is_free else float(rng.randint(low // 100, high // 100) * 100),
        products=[PLAN_OF_TIER[tier], *rng.sample(ADD_ONS, rng.randint(0, 3))],
        region=rng.choice(REGIONS),
        preferred_channel=rng.choice(CHANNELS),
        open_incidents=rng.choices(OPEN_INCIDENTS, weights=OPEN_INCIDENT_WEIGHTS)[0],
        recent_tickets=recent_tickets,
        satisfaction=satisfaction,
        renewal_date=None if is_free else today + timedelta(days=rng.randint(-30, 400)),
        churn_signals=_churn(rng),
        updated_at=_as_of(today),
    )


def _satisfaction(rng: random.Random) -> float:
    # Most customers are content; a tail is not, which is what low_satisfaction picks up.
    return round(min(5.0, max(1.0, rng.gauss(3.9, 0.8))), 1)


def _churn(rng: random.Random) -> list[str]:
    if rng.random() < 0.8:
        return []
    return rng.sample(CHURN_VOCABULARY, rng.choices((1, 2), weights=(3, 1))[0])


def _company_name(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_STEMS)} {rng.choice(COMPANY_TRADES)} {rng.choice(COMPANY_FORMS)}"


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
