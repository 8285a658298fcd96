"""Customer context: the demo portfolio, shared churn signals, the SQL and in-memory directories."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.store.customers import CustomerStore
from app.store.database import Sessions, create_engine, default_url, migrate
from app.store.models import Customer
from app.store.portfolio import DEMO_EPOCH, demo_portfolio, facts_of
from graph.customers import CustomerDirectory, StaticCustomers, churn_signals
from graph.policy.value import CustomerFacts

FACT_KEYS = {
    "customer_id",
    "tier",
    "annual_contract_value",
    "renewal_date",
    "churn_signals",
    "open_incidents",
    "region",
}
COLUMNS = [column.key for column in Customer.__table__.columns]


def fields(customer: Customer) -> dict[str, Any]:
    return {name: getattr(customer, name) for name in COLUMNS}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CustomerStore]:
    engine = create_engine(default_url(tmp_path))
    try:
        await migrate(engine)
        yield CustomerStore(Sessions(engine))
    finally:
        await engine.dispose()


def test_portfolio_is_deterministic_and_sized() -> None:
    first, second = demo_portfolio(), demo_portfolio()
    assert [fields(c) for c in first] == [fields(c) for c in second]
    assert len(first) == 300
    assert len({c.id for c in first}) == 300
    assert [c.id for c in first[:4]] == ["cus_vip", "cus_free", "cus_0001", "cus_0002"]
    assert len(demo_portfolio(count=25)) == 25
    assert [fields(c) for c in demo_portfolio(seed=8)] != [fields(c) for c in first]


def test_fixed_customers_have_their_documented_values() -> None:
    today = date(2027, 3, 15)
    vip, free = demo_portfolio(count=10, today=today)[:2]
    assert (vip.id, vip.name, vip.tier, vip.region) == (
        "cus_vip",
        "Northwind Analytics GmbH",
        "enterprise",
        "eu-central",
    )
    assert vip.annual_contract_value == 480_000
    assert vip.renewal_date == today + timedelta(days=20)
    assert (vip.open_incidents, vip.churn_signals) == (1, ["usage_drop"])
    assert (free.id, free.name, free.tier, free.region) == ("cus_free", "Sam Rivera", "free", "us-east")
    assert (free.annual_contract_value, free.renewal_date) == (0, None)


def test_portfolio_shape_is_plausible() -> None:
    portfolio = demo_portfolio()
    tiers = Counter(c.tier for c in portfolio)
    assert set(tiers) == {"enterprise", "business", "standard", "free"}
    assert tiers["enterprise"] < 30
    assert 30 <= tiers["business"] <= 90
    assert 90 <= tiers["standard"] <= 180
    assert 50 <= tiers["free"] <= 130
    for c in portfolio:
        if c.tier == "free":
            assert (c.annual_contract_value, c.renewal_date) == (0, None)
            assert c.satisfaction is not None or c.recent_tickets == 0
        else:
            assert c.renewal_date is not None
            assert -30 <= (c.renewal_date - DEMO_EPOCH).days <= 400
            assert c.annual_contract_value > 0
        if c.tier == "enterprise":
            assert 120_000 <= c.annual_contract_value <= 900_000
        assert 1 <= len(c.products) <= 4
        assert c.satisfaction is None or 1.0 <= c.satisfaction <= 5.0
        assert 0 <= c.recent_tickets <= 12
    assert sum(c.open_incidents == 0 for c in portfolio) > len(portfolio) / 2
    assert sum(not c.churn_signals for c in portfolio) > len(portfolio) / 2


def test_fact_keys_are_the_typed_dict() -> None:
    assert set(CustomerFacts.__annotations__) == FACT_KEYS


def test_churn_signals_add_low_satisfaction_below_three_only() -> None:
    assert churn_signals(["usage_drop"], 2.9) == ["usage_drop", "low_satisfaction"]
    assert churn_signals(["usage_drop"], 3.0) == ["usage_drop"]
    assert churn_signals([], None) == []
    assert churn_signals(["low_satisfaction", "usage_drop", "usage_drop"], 1.0) == [
        "low_satisfaction",
        "usage_drop",
    ]


def test_facts_of_keeps_only_routing_fields() -> None:
    vip = demo_portfolio(count=2)[0]
    vip.satisfaction = 2.0
    facts = facts_of(vip)
    assert set(facts) == FACT_KEYS
    assert facts["churn_signals"] == ["usage_drop", "low_satisfaction"]
    assert vip.churn_signals == ["usage_drop"]  # the row is not changed


async def test_store_seeds_once_and_serves_facts(store: CustomerStore) -> None:
    directory: CustomerDirectory = store
    assert await store.seed_demo_if_empty(count=40) == 40
    assert await store.seed_demo_if_empty(count=40) == 0
    assert await store.count() == 40

    facts = await directory.facts("cus_vip")
    assert facts is not None
    assert set(facts) == FACT_KEYS
    assert facts["renewal_date"] == (DEMO_EPOCH + timedelta(days=20)).isoformat()
    assert (facts["tier"], facts["annual_contract_value"], facts["open_incidents"]) == (
        "enterprise",
        480_000,
        1,
    )
    assert "usage_drop" in facts["churn_signals"]
    free = await directory.facts("cus_free")
    assert free is not None and free["renewal_date"] is None
    assert await directory.facts("cus_nobody") is None

    profile = await store.get("cus_vip")
    assert profile is not None and profile.name == "Northwind Analytics GmbH"


async def test_upsert_updates_and_inserts(store: CustomerStore) -> None:
    vip, free = demo_portfolio(count=2)
    assert await store.upsert([vip, free]) == 2
    vip.open_incidents = 3
    vip.churn_signals = ["champion_left"]
    newcomer = Customer(id="cus_new", name="Talia Novak", tier="standard", annual_contract_value=1200.0)
    assert await store.upsert([vip, newcomer]) == 2
    assert await store.count() == 3

    facts = await store.facts("cus_vip")
    assert facts is not None
    # The VIP's satisfaction (2.6) adds low_satisfaction to whatever signals the CRM lists.
    assert (facts["open_incidents"], facts["churn_signals"]) == (3, ["champion_left", "low_satisfaction"])
    added = await store.get("cus_new")
    assert added is not None and added.updated_at is not None


async def test_a_table_with_any_customer_is_not_seeded(store: CustomerStore) -> None:
    await store.upsert([Customer(id="cus_crm", name="Elin Brandt", tier="free", annual_contract_value=0.0)])
    assert await store.seed_demo_if_empty() == 0
    assert await store.count() == 1


async def test_list_filters_and_pages(store: CustomerStore) -> None:
    await store.seed_demo_if_empty(count=60)
    everyone = await store.list(limit=1000)
    assert len(everyone) == 60
    assert [c.id for c in everyone] == sorted(c.id for c in everyone)
    free = await store.list(tier="free", limit=1000)
    assert free and all(c.tier == "free" for c in free)
    assert [c.id for c in await store.list(limit=5, offset=5)] == [c.id for c in everyone[5:10]]


async def test_static_customers_return_copies() -> None:
    facts = CustomerFacts(
        customer_id="c1",
        tier="business",
        annual_contract_value=20_000.0,
        renewal_date="2026-12-01",
        churn_signals=[],
        open_incidents=0,
        region="apac",
    )
    directory: CustomerDirectory = StaticCustomers({"c1": facts})
    facts["churn_signals"].append("usage_drop")  # the caller's later edits do not leak in
    first = await directory.facts("c1")
    assert first is not None and first["churn_signals"] == []
    first["churn_signals"].append("champion_left")
    first["tier"] = "free"
    second = await directory.facts("c1")
    assert second is not None and (second["tier"], second["churn_signals"]) == ("business", [])
    assert await directory.facts("c2") is None
