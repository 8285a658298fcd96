"""Business data: the demo seed and its stories, customer-scoped lookups, and approved actions run once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agents.tools.business import SENSITIVE_ACTIONS, ActionResult, BusinessData, ProposedAction
from app.store.business import BusinessStore, mask_email
from app.store.business_models import (
    AccountSecurityRow,
    ExecutedActionRow,
    PasswordResetRow,
    PaymentRow,
    RefundRow,
)
from app.store.business_portfolio import PLAN_PRICES, BusinessPortfolio, add_months, business_portfolio
from app.store.database import Sessions
from app.store.models import Base
from app.store.portfolio import DEMO_EPOCH, FREE_ID, PLAN_OF_TIER, VIP_ID, demo_portfolio
from app.store.store import AppStore, open_store

COUNT = 40
BUSINESS_TABLES = (
    "plans",
    "subscriptions",
    "payment_methods",
    "invoices",
    "charges",
    "orders",
    "payments",
    "refunds",
    "account_security",
    "service_components",
    "incidents",
)
NOW = datetime(DEMO_EPOCH.year, DEMO_EPOCH.month, DEMO_EPOCH.day, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AppStore]:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as store:
        await store.customers.seed_demo_if_empty(count=COUNT)
        assert await store.business.seed_demo_if_empty(count=COUNT) == COUNT
        yield store


def refund(order_id: str, amount: Any, customer_id: str = FREE_ID, **extra: Any) -> ProposedAction:
    return ProposedAction(
        name="issue_refund",
        customer_id=customer_id,
        arguments={"order_id": order_id, "amount_cents": amount, **extra},
    )


async def dump(store: AppStore) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with store.engine.connect() as connection:
        for name in BUSINESS_TABLES:
            table = Base.metadata.tables[name]
            rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
            tables[name] = [tuple(row) for row in rows]
    return tables


async def refunded(store: AppStore, order_id: str) -> int:
    async with store.engine.connect() as connection:
        total = await connection.scalar(
            select(func.sum(PaymentRow.refunded_cents)).where(PaymentRow.order_id == order_id)
        )
    return int(total or 0)


async def count_rows(store: AppStore, model: type[Base]) -> int:
    async with store.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


def portfolio_fields(portfolio: BusinessPortfolio) -> list[list[dict[str, Any]]]:
    return [
        [{column.key: getattr(row, column.key) for column in table.columns} for row in rows]
        for table, rows in portfolio.tables()
    ]


def test_demo_data_is_deterministic_and_seeded_per_customer() -> None:
    customers = demo_portfolio(COUNT)
    first, second = business_portfolio(customers), business_portfolio(demo_portfolio(COUNT))
    assert portfolio_fields(first) == portfolio_fields(second)
    assert portfolio_fields(business_portfolio(customers, seed=8)) != portfolio_fields(first)
    # One customer's records come from its own generator: a bigger portfolio leaves the first ones alone.
    bigger = business_portfolio(demo_portfolio(COUNT + 20))
    assert [o.id for o in bigger.orders if o.customer_id == "cus_0005"] == [
        o.id for o in first.orders if o.customer_id == "cus_0005"
    ]


def test_demo_data_matches_tiers_and_help_centre() -> None:
    customers = {customer.id: customer for customer in demo_portfolio()}
    portfolio = business_portfolio(list(customers.values()))
    assert {(plan.name, plan.interval): plan.price_cents for plan in portfolio.plans} == PLAN_PRICES
    plans = {plan.id: plan for plan in portfolio.plans}
    subscriptions = {row.customer_id: row for row in portfolio.subscriptions}
    assert set(subscriptions) == set(customers)
    for customer_id, subscription in subscriptions.items():
        plan = plans[subscription.plan_id]
        assert plan.name == PLAN_OF_TIER[customers[customer_id].tier]
        assert (subscription.renews_on is None) == (plan.price_cents == 0)
    for invoice in portfolio.invoices:
        plan = plans[subscriptions[invoice.customer_id].plan_id]
        assert invoice.amount_cents == plan.price_cents and invoice.issued_on <= DEMO_EPOCH
        assert invoice.status in ("paid", "open") or invoice.customer_id == VIP_ID
    for order in portfolio.orders:
        assert order.placed_at < NOW and (order.delivered_at is None or order.delivered_at < NOW)
        assert (order.delivered_at is not None) == (order.status in ("delivered", "returned"))
    for row in portfolio.security:
        assert row.mfa_enabled == (row.mfa_method != "none")
        assert row.state != "locked" or row.failed_logins_24h >= 5
    for rows in (portfolio.orders, portfolio.charges, portfolio.payments, portfolio.invoices):
        assert len({row.id for row in rows}) == len(rows)
    assert {row.customer_id for row in portfolio.payment_methods if row.is_default} == set(customers)


async def test_seed_is_idempotent_and_identical_across_stores(store: AppStore, tmp_path: Path) -> None:
    assert await store.business.seed_demo_if_empty(count=COUNT) == 0
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/other.db") as other:
        assert await other.business.seed_demo_if_empty(count=COUNT) == COUNT
        assert await dump(other) == await dump(store)


async def test_two_racing_seeds_insert_once(tmp_path: Path) -> None:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as store:
        # Two engines on one file: two processes, each with its own write queue.
        async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as other:
            results = await asyncio.gather(
                store.business.seed_demo_if_empty(count=COUNT), other.business.seed_demo_if_empty(count=COUNT)
            )
        assert sorted(results) == [0, COUNT]
        assert await count_rows(store, RefundRow) == len(business_portfolio(demo_portfolio(COUNT)).refunds)


async def test_free_customer_story(store: AppStore) -> None:
    business: BusinessData = store.business
    assert SENSITIVE_ACTIONS == ("issue_refund", "reset_mfa", "downgrade_plan")
    plan = await business.plan(FREE_ID)
    assert plan is not None and (plan["name"], plan["price_cents"], plan["renews_on"]) == (
        "Free plan",
        0,
        None,
    )
    assert await business.invoices(FREE_ID) == []
    eligibility = await business.refund_eligibility(FREE_ID, "ord_free_1001")
    assert eligibility == {
        "order_id": "ord_free_1001",
        "eligible": True,
        "refundable_cents": 5990,
        "currency": "EUR",
        "reason": "delivered 12 days ago, within the 30-day window",
    }
    charges = {charge["id"]: charge for charge in await business.charges(FREE_ID)}
    duplicate, original = charges["ch_free_003"], charges["ch_free_002"]
    assert duplicate["duplicate_of"] == "ch_free_002" and original["duplicate_of"] is None
    assert (duplicate["amount_cents"], duplicate["description"]) == (
        original["amount_cents"],
        original["description"],
    )
    assert NOW - datetime.fromisoformat(duplicate["created_at"]) < timedelta(days=3)
    payments = await business.payments(FREE_ID, "ord_free_1002")
    assert [payment["id"] for payment in payments] == ["pay_free_1002", "pay_free_1002b"]
    status = await business.account_status(FREE_ID)
    assert status is not None and status["email_masked"] == "s***@i***.example"
    assert not any(incident["affects_customer"] for incident in await business.incidents(FREE_ID))


async def test_vip_customer_story(store: AppStore) -> None:
    business = store.business
    status = await business.account_status(VIP_ID)
    assert status is not None
    assert (status["state"], status["mfa_enabled"], status["mfa_method"]) == ("active", True, "app")
    invoices = await business.invoices(VIP_ID)
    assert invoices[0]["status"] == "overdue" and invoices[0]["due_on"] < DEMO_EPOCH.isoformat()
    assert [invoice["status"] for invoice in invoices[1:]] == ["paid", "paid"]
    eligibility = await business.refund_eligibility(VIP_ID, "ord_vip_2001")
    assert (eligibility["eligible"], eligibility["refundable_cents"]) == (False, 38900)
    assert eligibility["reason"] == "delivered 45 days ago, outside the 30-day window"
    incidents = {incident["id"]: incident for incident in await business.incidents(VIP_ID)}
    current = incidents["inc_cards_eu_central"]
    assert current["affects_customer"] and current["status"] != "resolved" and current["workaround"]
    assert [incident["affects_customer"] for incident in incidents.values()].count(True) == 1
    plan = await business.plan(VIP_ID)
    assert plan == {
        "name": "Premium plan",
        "price_cents": 12990,
        "currency": "EUR",
        "interval": "year",
        "renews_on": (DEMO_EPOCH + timedelta(days=20)).isoformat(),
        "auto_renew": True,
    }
    methods = await business.payment_methods(VIP_ID)
    assert methods[0] == {
        "id": "pm_vip_card",
        "kind": "card",
        "brand": "Mastercard",
        "last4": "5100",
        "expires": "09/26",
        "default": True,
    }
    assert [method["default"] for method in methods[1:]] == [False, False]


async def test_lookups_are_newest_first_limited_and_json(store: AppStore) -> None:
    business = store.business
    charges = await business.charges(VIP_ID, limit=3)
    assert [charge["id"] for charge in charges] == ["ch_vip_005", "ch_vip_004", "ch_vip_003"]
    assert [invoice["id"] for invoice in await business.invoices(VIP_ID, limit=1)] == ["in_vip_20261012"]
    assert len(await business.charges(VIP_ID, limit=0)) == 1  # a model's silly limit is bounded, not an error
    orders = await business.orders(FREE_ID)
    assert [order["id"] for order in orders] == ["ord_free_1002", "ord_free_1001"]
    components = await business.service_status()
    assert components[0] == {
        "component": "Card payments",
        "status": "degraded",
        "updated_at": "2026-10-31T20:05:00+00:00",
    }
    assert {component["status"] for component in components} == {"operational", "degraded"}
    for record in (
        charges,
        orders,
        components,
        await business.incidents(VIP_ID),
        await business.plan(VIP_ID),
    ):
        assert json.loads(json.dumps(record)) == record


async def test_unknown_customers_get_nothing(store: AppStore) -> None:
    business = store.business
    assert await business.invoices("cus_nobody") == []
    assert await business.charges("cus_nobody") == []
    assert await business.orders("cus_nobody") == []
    assert await business.payment_methods("cus_nobody") == []
    assert await business.plan("cus_nobody") is None
    assert await business.account_status("cus_nobody") is None
    assert await business.password_reset_link("cus_nobody", "c1:1:reset") == {
        "sent": False,
        "sent_to": None,
        "expires_at": None,
    }
    incidents = await business.incidents("cus_nobody")
    assert incidents and not any(incident["affects_customer"] for incident in incidents)


async def test_password_reset_link_is_recorded_and_masked(store: AppStore) -> None:
    before = datetime.now(UTC)
    reset = await store.business.password_reset_link(VIP_ID, "c1:1:reset")
    assert (reset["sent"], reset["sent_to"]) == (True, "i***@n***.example")
    assert reset["expires_at"] is not None
    lifetime = datetime.fromisoformat(reset["expires_at"]) - before
    assert timedelta(minutes=29) < lifetime <= timedelta(minutes=31)
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(select(PasswordResetRow.customer_id, PasswordResetRow.sent_to))
        ).all()
    assert [tuple(row) for row in rows] == [(VIP_ID, "i***@n***.example")]
    assert "northwind" not in json.dumps(reset)


async def test_a_reset_link_is_sent_once_per_key_even_when_asked_again_or_at_once(store: AppStore) -> None:
    first = await store.business.password_reset_link(VIP_ID, "c1:1:reset")
    again, racing = await asyncio.gather(
        store.business.password_reset_link(VIP_ID, "c1:1:reset"),
        store.business.password_reset_link(VIP_ID, "c1:1:reset"),
    )
    later_turn = await store.business.password_reset_link(VIP_ID, "c1:2:reset")
    assert first == again == racing and later_turn["expires_at"] != first["expires_at"]
    async with store.engine.connect() as connection:
        keys = (await connection.execute(select(PasswordResetRow.idempotency_key))).scalars().all()
    assert sorted(keys) == ["c1:1:reset", "c1:2:reset"]
    with pytest.raises(ValueError, match="another customer"):
        await store.business.password_reset_link(FREE_ID, "c1:1:reset")


def test_mask_email() -> None:
    assert mask_email("jane@bank.com") == "j***@b***.com"
    assert mask_email("sam.rivera@inbox.example") == "s***@i***.example"
    assert mask_email("root@localhost") == "r***@l***"


async def test_customers_cannot_reach_each_others_orders(store: AppStore) -> None:
    business = store.business
    assert await business.payments(FREE_ID, "ord_vip_2001") == []
    assert await business.payments(VIP_ID, "ord_free_1001") == []
    eligibility = await business.refund_eligibility(FREE_ID, "ord_vip_2001")
    assert (eligibility["eligible"], eligibility["refundable_cents"]) == (False, 0)
    assert eligibility["reason"] == "no such order for this customer"
    result = await business.execute(refund("ord_vip_2001", 100), "steal-1")
    assert (result["status"], result["reference"]) == ("rejected", None)
    assert result["detail"] == "no order ord_vip_2001 for this customer"
    assert await refunded(store, "ord_vip_2001") == 0


async def test_refund_window_is_counted_from_the_demo_date(store: AppStore) -> None:
    sessions = Sessions(store.engine)
    last_day = BusinessStore(sessions, today=DEMO_EPOCH + timedelta(days=18))
    inside = await last_day.refund_eligibility(FREE_ID, "ord_free_1001")
    assert (inside["eligible"], inside["reason"]) == (True, "delivered 30 days ago, within the 30-day window")
    day_after = BusinessStore(sessions, today=DEMO_EPOCH + timedelta(days=19))
    outside = await day_after.refund_eligibility(FREE_ID, "ord_free_1001")
    assert (outside["eligible"], outside["refundable_cents"]) == (False, 5990)
    assert outside["reason"] == "delivered 31 days ago, outside the 30-day window"


async def test_refund_executes_once_per_key(store: AppStore) -> None:
    business = store.business
    first = await business.execute(
        refund("ord_free_1001", 5990, reason="changed their mind"), "review-1:refund"
    )
    assert first["status"] == "executed" and first["reference"] is not None
    assert (
        first["detail"]
        == "refunded EUR 59.90 of order ord_free_1001 (Bluetooth speaker) to the payment method"
    )
    again = await business.execute(
        refund("ord_free_1001", 5990, reason="worded differently"), "review-1:refund"
    )
    assert again == first
    assert await refunded(store, "ord_free_1001") == 5990
    assert await count_rows(store, RefundRow) == len(business_portfolio(demo_portfolio(COUNT)).refunds) + 1
    [payment] = await business.payments(FREE_ID, "ord_free_1001")
    assert (payment["status"], payment["refunded_cents"]) == ("refunded", 5990)
    after = await business.refund_eligibility(FREE_ID, "ord_free_1001")
    assert (after["eligible"], after["refundable_cents"]) == (False, 0)
    charges = {charge["id"]: charge for charge in await business.charges(FREE_ID)}
    assert charges["ch_free_001"]["status"] == "refunded"


async def test_concurrent_calls_with_one_key_execute_once(store: AppStore, tmp_path: Path) -> None:
    action = refund("ord_free_1001", 2000)
    results = await asyncio.gather(*(store.business.execute(action, "race-1") for _ in range(3)))
    assert all(result == results[0] for result in results) and results[0]["status"] == "executed"
    # Another engine on the same file, like a second worker: its write is not queued behind ours.
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as other:
        pair = await asyncio.gather(
            store.business.execute(action, "race-2"), other.business.execute(action, "race-2")
        )
    assert pair[0] == pair[1] and pair[0]["status"] == "executed"
    assert pair[0]["reference"] != results[0]["reference"]
    assert await refunded(store, "ord_free_1001") == 4000
    assert await count_rows(store, ExecutedActionRow) == 2


async def test_refunds_take_the_duplicate_payment_first_and_never_exceed_what_was_paid(
    store: AppStore,
) -> None:
    business = store.business
    duplicate = await business.execute(refund("ord_free_1002", 1490), "dup-1")
    assert duplicate["status"] == "executed"
    payments = {payment["id"]: payment for payment in await business.payments(FREE_ID, "ord_free_1002")}
    assert (
        payments["pay_free_1002b"]["status"] == "refunded"
        and payments["pay_free_1002"]["refunded_cents"] == 0
    )
    charges = {charge["id"]: charge for charge in await business.charges(FREE_ID)}
    assert (charges["ch_free_003"]["status"], charges["ch_free_002"]["status"]) == ("refunded", "succeeded")
    partial = await business.execute(refund("ord_free_1002", 490), "dup-2")
    assert partial["status"] == "executed"
    assert (await business.payments(FREE_ID, "ord_free_1002"))[0]["status"] == "partially_refunded"
    too_much = await business.execute(refund("ord_free_1002", 1001), "dup-3")
    assert too_much["status"] == "rejected"
    assert too_much["detail"] == "EUR 10.01 is more than the EUR 10.00 left to refund on ord_free_1002"
    assert await refunded(store, "ord_free_1002") == 1980


@pytest.mark.parametrize(
    ("action", "detail"),
    [
        (refund("ord_free_1001", 0), "amount_cents must be a positive whole number of cents"),
        (refund("ord_free_1001", -5), "amount_cents must be a positive whole number of cents"),
        (refund("ord_free_1001", True), "amount_cents must be a positive whole number of cents"),
        (refund("ord_free_1001", "5990"), "amount_cents must be a positive whole number of cents"),
        (
            refund("ord_free_1001", 5991),
            "EUR 59.91 is more than the EUR 59.90 left to refund on ord_free_1001",
        ),
        (refund("", 100), "order_id must name an order"),
        (refund("ord_nowhere", 100), "no order ord_nowhere for this customer"),
        (refund("ord_free_1001", 100, customer_id=""), "the action names no customer"),
        (refund("ord_free_1001", 100, note="x"), "unexpected arguments for issue_refund: note"),
        (
            ProposedAction(name="reset_mfa", customer_id=FREE_ID, arguments={"method": "sms"}),
            "unexpected arguments for reset_mfa: method",
        ),
        (
            ProposedAction(name="reset_mfa", customer_id="cus_nobody", arguments={}),
            "no account for this customer",
        ),
        (
            ProposedAction(name="downgrade_plan", customer_id=VIP_ID, arguments={"plan": "Gold"}),
            "no plan called 'Gold'; the plans are Free plan, Plus plan, Premium plan",
        ),
        (
            ProposedAction(name="downgrade_plan", customer_id=VIP_ID, arguments={"plan": "Premium plan"}),
            "Premium plan is not cheaper than the current Premium plan",
        ),
        (
            ProposedAction(name="downgrade_plan", customer_id=FREE_ID, arguments={"plan": "Plus"}),
            "Plus plan is not cheaper than the current Free plan",
        ),
        (
            ProposedAction(name="downgrade_plan", customer_id=VIP_ID, arguments={}),
            "plan must name a plan",
        ),
        (
            {"name": "delete_account", "customer_id": FREE_ID, "arguments": {}},
            "unknown action 'delete_account'",
        ),
    ],
)
async def test_execute_rejects_bad_actions_and_changes_nothing(
    store: AppStore, action: ProposedAction, detail: str
) -> None:
    before = await dump(store)
    result = await store.business.execute(action, "bad-1")
    assert (result["status"], result["detail"], result["reference"]) == ("rejected", detail, None)
    assert await dump(store) == before
    assert await store.business.execute(action, "bad-1") == result  # a rejection is kept like any result


async def test_reset_mfa_waits_for_enrolment(store: AppStore) -> None:
    business = store.business
    action = ProposedAction(name="reset_mfa", customer_id=VIP_ID, arguments={"reason": "lost phone"})
    result = await business.execute(action, "mfa-1")
    assert result["status"] == "executed" and result["reference"] is not None
    status = await business.account_status(VIP_ID)
    assert status is not None and (status["mfa_enabled"], status["mfa_method"]) == (False, "none")
    second = await business.execute(action, "mfa-2")
    assert second["status"] == "rejected"
    assert (
        second["detail"] == "two-factor authentication is already reset and waits for the customer to enrol"
    )


async def test_downgrade_moves_to_a_cheaper_plan(store: AppStore) -> None:
    business = store.business
    renews = (DEMO_EPOCH + timedelta(days=20)).isoformat()
    plus = ProposedAction(name="downgrade_plan", customer_id=VIP_ID, arguments={"plan": "plus"})
    result = await business.execute(plus, "plan-1")
    assert result["status"] == "executed"
    assert (
        result["detail"]
        == f"moved from Premium plan to Plus plan (EUR 49.90 a year); Premium plan stays until {renews}"
    )
    plan = await business.plan(VIP_ID)
    assert plan is not None and (plan["name"], plan["price_cents"], plan["interval"]) == (
        "Plus plan",
        4990,
        "year",
    )
    free = ProposedAction(name="downgrade_plan", customer_id=VIP_ID, arguments={"plan": "Free plan"})
    assert (await business.execute(free, "plan-2"))["status"] == "executed"
    plan = await business.plan(VIP_ID)
    assert plan is not None and (plan["name"], plan["renews_on"], plan["auto_renew"]) == (
        "Free plan",
        None,
        False,
    )


async def test_a_spent_key_is_not_reused_for_another_action(store: AppStore) -> None:
    business = store.business
    first = await business.execute(refund("ord_free_1001", 100), "shared-key")
    other: ActionResult = await business.execute(refund("ord_free_1001", 200), "shared-key")
    assert first["status"] == "executed" and other["status"] == "rejected"
    assert other["detail"] == "this idempotency key was already used for a different action"
    assert await refunded(store, "ord_free_1001") == 100
    assert await business.execute(refund("ord_free_1001", 100), "shared-key") == first


async def test_an_empty_or_huge_key_is_refused(store: AppStore) -> None:
    for key in ("", "k" * 201):
        with pytest.raises(ValueError, match="idempotency key"):
            await store.business.execute(refund("ord_free_1001", 100), key)
    async with store.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(AccountSecurityRow)) == COUNT


def test_add_months_keeps_the_day_or_the_month_end() -> None:
    assert add_months(DEMO_EPOCH, -1).isoformat() == "2026-10-01"
    assert add_months(datetime(2026, 1, 31).date(), 1).isoformat() == "2026-02-28"
    assert add_months(datetime(2024, 2, 29).date(), 12).isoformat() == "2025-02-28"
    assert add_months(datetime(2026, 12, 15).date(), 1).isoformat() == "2027-01-15"
