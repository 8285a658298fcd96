"""Deterministic demo business data for the demo portfolio: plans, billing, orders, security, status."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Table

from app.store.business_models import (
    AccountSecurityRow,
    ChargeRow,
    IncidentRow,
    InvoiceRow,
    OrderRow,
    PaymentMethodRow,
    PaymentRow,
    PlanRow,
    RefundRow,
    ServiceComponentRow,
    SubscriptionRow,
)
from app.store.models import Base, Customer
from app.store.portfolio import DEMO_EPOCH, FREE_ID, PLAN_OF_TIER, VIP_ID

CURRENCY = "EUR"
# knowledge/articles/billing/plans-and-prices.md: Plus EUR 4.99 a month or 49.90 a year, Premium 12.99 or
# 129.90; Free costs nothing. Prices are the same in every country, so one currency.
PLAN_PRICES = {
    ("Free plan", "month"): 0,
    ("Plus plan", "month"): 499,
    ("Plus plan", "year"): 4990,
    ("Premium plan", "month"): 1299,
    ("Premium plan", "year"): 12990,
}
REFUND_WINDOW_DAYS = 30
"""Most Market items can be returned within 30 days of delivery (refunds/market-refund-request.md)."""
INVOICE_TERMS_DAYS = 14
"""Days to pay a plan invoice: unpaid 14 days after renewal, a plan moves to Free (billing articles)."""
PDF_URL = "https://app.lumora.example/billing/invoices/{id}.pdf"

MARKET_ITEMS = (
    ("Bluetooth speaker", 5990), ("Travel backpack", 7900), ("Phone case", 1490), ("Desk lamp", 3490),
    ("Coffee grinder", 4990), ("Running shoes", 11990), ("Yoga mat", 2990), ("Board game", 3990),
    ("Power bank", 3490), ("Kitchen knife set", 8990), ("Hiking jacket", 14990), ("Camping lantern", 2790),
    ("Mechanical keyboard", 9990), ("Standing desk", 38900), ("Watch strap", 2490), ("Water bottle", 1990),
)  # fmt: skip
CARD_BRANDS = ("Visa", "Mastercard")
PERSONAL_DOMAINS = ("inbox.example", "mailbox.example", "post.example")
ACCOUNT_STATES = ("active", "locked", "suspended", "pending_verification")
ACCOUNT_STATE_WEIGHTS = (90, 4, 2, 4)
STATUS_COMPONENTS = (
    "Card payments",
    "Transfers",
    "Top-ups",
    "Lumora Market",
    "Sign-in and two-factor authentication",
    "Mobile app",
    "Web app",
    "Notifications",
)


@dataclass
class BusinessPortfolio:
    """Every demo row, one list per table."""

    plans: list[PlanRow] = field(default_factory=list)
    subscriptions: list[SubscriptionRow] = field(default_factory=list)
    payment_methods: list[PaymentMethodRow] = field(default_factory=list)
    invoices: list[InvoiceRow] = field(default_factory=list)
    charges: list[ChargeRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    payments: list[PaymentRow] = field(default_factory=list)
    refunds: list[RefundRow] = field(default_factory=list)
    security: list[AccountSecurityRow] = field(default_factory=list)
    components: list[ServiceComponentRow] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)

    def tables(self) -> list[tuple[Table, list[Base]]]:
        """Each table with its rows, referenced tables before the tables whose foreign keys point at them."""
        groups: list[Sequence[Base]] = [
            self.plans,
            self.subscriptions,
            self.payment_methods,
            self.invoices,
            self.charges,
            self.orders,
            self.payments,
            self.refunds,
            self.security,
            self.components,
            self.incidents,
        ]
        return [(Base.metadata.tables[rows[0].__tablename__], list(rows)) for rows in groups if rows]


def business_portfolio(
    customers: Sequence[Customer], today: date = DEMO_EPOCH, seed: int = 7
) -> BusinessPortfolio:
    """Records for each customer, identical for the same arguments on every machine."""
    portfolio = BusinessPortfolio(plans=plan_catalogue())
    portfolio.components, portfolio.incidents = status_page(today)
    stories = {VIP_ID: _vip_story, FREE_ID: _free_story}
    for customer in customers:
        story = stories.get(customer.id)
        if story is not None:
            story(portfolio, today)
        else:
            _generated(portfolio, customer, random.Random(f"{seed}:{customer.id}"), today)
    return portfolio


def plan_catalogue() -> list[PlanRow]:
    """The plans the help centre lists, at each interval they are sold."""
    return [
        PlanRow(
            id=plan_id(name, interval), name=name, interval=interval, price_cents=price, currency=CURRENCY
        )
        for (name, interval), price in PLAN_PRICES.items()
    ]


def plan_id(name: str, interval: str) -> str:
    """`premium_year` for ("Premium plan", "year"); Free is sold at one interval only: just `free`."""
    stem = name.removesuffix(" plan").lower()
    return stem if stem == "free" else f"{stem}_{interval}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the month lacks becomes its last day (monthly-vs-yearly.md)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    next_month = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (next_month - timedelta(days=1)).day))


def at(today: date, days_ago: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A UTC time counted back from the demo's today, never from the clock."""
    return datetime.combine(today - timedelta(days=days_ago), time(hour, minute, second), tzinfo=UTC)


def status_page(today: date) -> tuple[list[ServiceComponentRow], list[IncidentRow]]:
    """The status page: one open incident in Central Europe, one in APAC and LATAM, one resolved."""
    degraded = {"Card payments": at(today, 1, 20, 5), "Lumora Market": at(today, 1, 9, 40)}
    components = [
        ServiceComponentRow(
            name=name,
            position=position,
            status="degraded" if name in degraded else "operational",
            updated_at=degraded.get(name, at(today, 0)),
        )
        for position, name in enumerate(STATUS_COMPONENTS)
    ]
    return components, _incidents(today)


def _incidents(today: date) -> list[IncidentRow]:
    return [
        IncidentRow(
            id="inc_cards_eu_central",
            title="Card payments delayed or declined in Central Europe",
            status="identified",
            started_at=at(today, 1, 20, 5),
            resolved_at=None,
            components=["Card payments"],
            regions=["eu-central"],
            products=["Lumora Card", "Virtual cards"],
            workaround="Retry in a few minutes or pay with Apple Pay or Google Pay; "
            "a declined payment is not taken from the balance.",
        ),
        IncidentRow(
            id="inc_market_tracking",
            title="Market order tracking not updating",
            status="monitoring",
            started_at=at(today, 1, 9, 40),
            resolved_at=None,
            components=["Lumora Market"],
            regions=["apac", "latam"],
            products=[],
            workaround="The tracking link in the carrier's email still shows the latest status.",
        ),
        IncidentRow(
            id="inc_sms_codes_us",
            title="Delayed SMS sign-in codes for some US carriers",
            status="resolved",
            started_at=at(today, 5, 13, 0),
            resolved_at=at(today, 5, 15, 30),
            components=["Sign-in and two-factor authentication"],
            regions=["us-east", "us-west"],
            products=[],
            workaround=None,
        ),
    ]


def _free_story(portfolio: BusinessPortfolio, today: date) -> None:
    # Sam Rivera: a delivered order inside the refund window, and a phone case charged twice two days ago.
    portfolio.subscriptions.append(
        SubscriptionRow(
            customer_id=FREE_ID,
            plan_id="free",
            started_on=today - timedelta(days=400),
            renews_on=None,
            auto_renew=False,
            updated_at=at(today, 400),
        )
    )
    portfolio.payment_methods += [
        _wallet(FREE_ID, "pm_free_wallet", default=True),
        _card(FREE_ID, "pm_free_card", "Visa", "7311", "08/28", default=False),
    ]
    speaker = _order(
        FREE_ID,
        "ord_free_1001",
        at(today, 15, 9, 30),
        "Bluetooth speaker",
        5990,
        "delivered",
        at(today, 12, 16),
    )
    case = _order(
        FREE_ID, "ord_free_1002", at(today, 2, 18, 42, 5), "Phone case", 1490, "delivered", at(today, 1)
    )
    portfolio.orders += [speaker, case]
    _pay(portfolio, speaker, "pay_free_1001", "ch_free_001", "wallet", "pm_free_wallet")
    _pay(portfolio, case, "pay_free_1002", "ch_free_002", "card", "pm_free_card")
    # The card was charged again 36 seconds later for the same order: the duplicate the story is about.
    _pay(
        portfolio,
        case,
        "pay_free_1002b",
        "ch_free_003",
        "card",
        "pm_free_card",
        36,
        duplicate_of="ch_free_002",
    )
    portfolio.security.append(
        _security(FREE_ID, "sam.rivera@inbox.example", "active", "sms", at(today, 1, 21, 0), today)
    )


def _vip_story(portfolio: BusinessPortfolio, today: date) -> None:
    # Northwind: yearly Premium renewing in 20 days, its renewal invoice overdue because the default card
    # expired, a desk delivered 45 days ago (outside the window), and the card incident in eu-central.
    renews_on = today + timedelta(days=20)
    portfolio.subscriptions.append(
        SubscriptionRow(
            customer_id=VIP_ID,
            plan_id="premium_year",
            started_on=add_months(renews_on, -36),
            renews_on=renews_on,
            auto_renew=True,
            updated_at=at(today, 20),
        )
    )
    portfolio.payment_methods += [
        _card(VIP_ID, "pm_vip_card", "Mastercard", "5100", "09/26", default=True),
        _sepa(VIP_ID, "pm_vip_sepa", "3000"),
        _wallet(VIP_ID, "pm_vip_wallet", default=False),
    ]
    _vip_invoices(portfolio, renews_on, today)
    desk = _order(
        VIP_ID,
        "ord_vip_2001",
        at(today, 50, 14, 20),
        "Standing desk",
        38900,
        "delivered",
        at(today, 45, 11, 5),
    )
    portfolio.orders.append(desk)
    _pay(portfolio, desk, "pay_vip_2001", "ch_vip_003", "card", "pm_vip_card")
    portfolio.security.append(
        _security(VIP_ID, "it-admin@northwind-analytics.example", "active", "app", at(today, 1, 8, 15), today)
    )


def _vip_invoices(portfolio: BusinessPortfolio, renews_on: date, today: date) -> None:
    # Enterprise renewals are invoiced 40 days ahead; the last two were paid, this year's is overdue.
    charge_ids = {2: "ch_vip_001", 1: "ch_vip_002"}
    for years_back in (2, 1, 0):
        issued = add_months(renews_on, -12 * years_back) - timedelta(days=40)
        invoice = _invoice(VIP_ID, issued, 12990, "paid" if years_back else "overdue")
        portfolio.invoices.append(invoice)
        description = f"Premium plan (yearly), invoice {invoice.number}"
        if years_back:
            when = datetime.combine(issued, time(10, 0), tzinfo=UTC)
            portfolio.charges.append(
                _charge(VIP_ID, charge_ids[years_back], when, description, 12990, "succeeded", "pm_vip_card")
            )
            continue
        # Collection failed on the due date and again three days later (the card ran out in September).
        for charge_id, attempt in (
            ("ch_vip_004", invoice.due_on),
            ("ch_vip_005", invoice.due_on + timedelta(3)),
        ):
            when = datetime.combine(attempt, time(6, 0), tzinfo=UTC)
            portfolio.charges.append(
                _charge(VIP_ID, charge_id, when, description, 12990, "failed", "pm_vip_card")
            )


def _generated(portfolio: BusinessPortfolio, customer: Customer, rng: random.Random, today: date) -> None:
    suffix = customer.id.removeprefix("cus_")
    subscription = _subscription(customer, rng, today)
    portfolio.subscriptions.append(subscription)
    methods = _payment_methods(customer, suffix, rng, today)
    portfolio.payment_methods += methods
    ledger = _Ledger(customer.id, suffix, methods)
    _plan_history(portfolio, ledger, subscription, rng, today)
    _market_history(portfolio, ledger, rng, today)
    portfolio.charges += ledger.charges
    portfolio.security.append(_generated_security(customer, rng, today))


@dataclass
class _Ledger:
    """Hands out one customer's charge ids in the order the charges are made up."""

    customer_id: str
    suffix: str
    methods: list[PaymentMethodRow]
    charges: list[ChargeRow] = field(default_factory=list)

    def method_id(self, kind: str) -> str:
        """The customer's method of this kind, else the default (every customer has a wallet)."""
        for method in self.methods:
            if method.kind == kind:
                return method.id
        return self.default_id()

    def default_id(self) -> str:
        return next(method.id for method in self.methods if method.is_default)

    def charge(self, when: datetime, description: str, amount: int, status: str, method_id: str) -> ChargeRow:
        row = _charge(
            self.customer_id,
            f"ch_{self.suffix}_{len(self.charges) + 1:03d}",
            when,
            description,
            amount,
            status,
            method_id,
        )
        self.charges.append(row)
        return row


def _subscription(customer: Customer, rng: random.Random, today: date) -> SubscriptionRow:
    name = PLAN_OF_TIER[customer.tier]
    if name == "Free plan":
        started = today - timedelta(days=rng.randint(30, 1500))
        return SubscriptionRow(
            customer_id=customer.id,
            plan_id="free",
            started_on=started,
            renews_on=None,
            auto_renew=False,
            updated_at=datetime.combine(started, time(0), tzinfo=UTC),
        )
    yearly_share = 0.8 if customer.tier in ("enterprise", "business") else 0.3
    interval = "year" if rng.random() < yearly_share else "month"
    renews_on = _renewal(customer, interval, rng, today)
    months = 12 * rng.randint(1, 4) if interval == "year" else rng.randint(2, 36)
    started = add_months(renews_on, -months)
    return SubscriptionRow(
        customer_id=customer.id,
        plan_id=plan_id(name, interval),
        started_on=started,
        renews_on=renews_on,
        auto_renew=rng.random() < 0.88,
        updated_at=datetime.combine(started, time(0), tzinfo=UTC),
    )


def _renewal(customer: Customer, interval: str, rng: random.Random, today: date) -> date:
    # A yearly plan renews with the contract when the contract renews within the year.
    if interval == "year":
        contract = customer.renewal_date
        if contract is not None and 1 <= (contract - today).days <= 365:
            return contract
        return today + timedelta(days=rng.randint(1, 365))
    return today + timedelta(days=rng.randint(1, 30))


def _payment_methods(
    customer: Customer, suffix: str, rng: random.Random, today: date
) -> list[PaymentMethodRow]:
    # Every plan includes the Wallet, and plans are paid from it unless the customer picked a card.
    methods = [_wallet(customer.id, f"pm_{suffix}_wallet", default=True)]
    if rng.random() < 0.55:
        expiry = add_months(today, rng.randint(-6, 48))
        card = _card(
            customer.id,
            f"pm_{suffix}_card",
            rng.choice(CARD_BRANDS),
            f"{rng.randint(0, 9999):04d}",
            f"{expiry.month:02d}/{expiry.year % 100:02d}",
            default=False,
        )
        methods.append(card)
    sepa_share = 0.3 if customer.tier in ("enterprise", "business") else 0.05
    if rng.random() < sepa_share:
        methods.append(_sepa(customer.id, f"pm_{suffix}_sepa", f"{rng.randint(0, 9999):04d}"))
    if len(methods) > 1 and rng.random() < 0.35:
        methods[0].is_default = False
        rng.choice(methods[1:]).is_default = True
    return methods


def _plan_history(
    portfolio: BusinessPortfolio,
    ledger: _Ledger,
    subscription: SubscriptionRow,
    rng: random.Random,
    today: date,
) -> None:
    if subscription.renews_on is None:
        return
    plan = next(row for row in portfolio.plans if row.id == subscription.plan_id)
    step = 12 if plan.interval == "year" else 1
    periods = [add_months(subscription.renews_on, -step * back) for back in range(1, 7 if step == 1 else 4)]
    issued_days = sorted(day for day in periods if subscription.started_on <= day <= today)
    cycle = "yearly" if plan.interval == "year" else "monthly"
    for index, issued in enumerate(issued_days):
        # The newest invoice may still be unpaid while it is within its terms, never past them: past them
        # the account would have moved to Free (failed-subscription-payment.md).
        latest = index == len(issued_days) - 1
        unpaid = latest and (today - issued).days < INVOICE_TERMS_DAYS and rng.random() < 0.06
        invoice = _invoice(ledger.customer_id, issued, plan.price_cents, "open" if unpaid else "paid")
        portfolio.invoices.append(invoice)
        when = datetime.combine(issued, time(rng.randint(5, 8), rng.randint(0, 59)), tzinfo=UTC)
        description = f"{plan.name} ({cycle}), invoice {invoice.number}"
        ledger.charge(
            when, description, plan.price_cents, "failed" if unpaid else "succeeded", ledger.default_id()
        )


def _market_history(portfolio: BusinessPortfolio, ledger: _Ledger, rng: random.Random, today: date) -> None:
    count = rng.choices((0, 1, 2, 3, 4), weights=(30, 30, 20, 12, 8))[0]
    placed_days = sorted((rng.randint(1, 120) for _ in range(count)), reverse=True)
    for number, days_ago in enumerate(placed_days, start=1001):
        item, price = rng.choice(MARKET_ITEMS)
        placed = at(today, days_ago, rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59))
        status, delivered = _order_progress(rng, placed, at(today, 0))
        order = _order(
            ledger.customer_id, f"ord_{ledger.suffix}_{number}", placed, item, price, status, delivered
        )
        portfolio.orders.append(order)
        _pay_order(portfolio, ledger, rng, order, number)


def _order_progress(rng: random.Random, placed: datetime, now: datetime) -> tuple[str, datetime | None]:
    shipped = placed + timedelta(hours=rng.randint(4, 30))
    delivered = shipped + timedelta(days=rng.randint(1, 4), hours=rng.randint(1, 6))
    roll = rng.random()
    # An order can be cancelled only until it ships (cancel-order.md), and returned only once delivered.
    if roll < 0.05:
        return "cancelled", None
    if shipped >= now:
        return "placed", None
    if delivered >= now:
        return "shipped", None
    if roll < 0.13 and now - delivered > timedelta(days=10):
        return "returned", delivered
    return "delivered", delivered


def _pay_order(
    portfolio: BusinessPortfolio, ledger: _Ledger, rng: random.Random, order: OrderRow, number: int
) -> None:
    method = rng.choices(("wallet", "card", "cash_on_delivery"), weights=(55, 35, 10))[0]
    if method == "cash_on_delivery":
        # Nothing is paid before the courier hands the parcel over.
        if order.delivered_at is None:
            return
        paid_at, charge_id = order.delivered_at, None
    else:
        paid_at = order.placed_at
        status = "refunded" if order.status in ("cancelled", "returned") else "succeeded"
        charge = ledger.charge(
            paid_at, _market_description(order), order.amount_cents, status, ledger.method_id(method)
        )
        charge_id = charge.id
    payment = _payment(
        f"pay_{ledger.suffix}_{number}", order.id, charge_id, paid_at, order.amount_cents, method
    )
    portfolio.payments.append(payment)
    if order.status in ("cancelled", "returned"):
        payment.status, payment.refunded_cents = "refunded", payment.amount_cents
        refunded_at = (order.delivered_at or order.placed_at) + timedelta(days=rng.randint(1, 8))
        portfolio.refunds.append(
            RefundRow(
                id=f"re_{ledger.suffix}_{number}",
                order_id=order.id,
                customer_id=ledger.customer_id,
                amount_cents=payment.amount_cents,
                currency=CURRENCY,
                idempotency_key=None,
                created_at=refunded_at,
            )
        )


def _generated_security(customer: Customer, rng: random.Random, today: date) -> AccountSecurityRow:
    state = rng.choices(ACCOUNT_STATES, weights=ACCOUNT_STATE_WEIGHTS)[0]
    # Two-factor is always on once an account is verified (two-factor-authentication.md); SMS is the default.
    method = "none" if state == "pending_verification" else ("app" if rng.random() < 0.35 else "sms")
    last_login = at(today, 0) - timedelta(minutes=rng.randint(30, 60 * 24 * 20))
    row = _security(customer.id, _email(customer, rng), state, method, last_login, today)
    # A sign-in lock follows 5 wrong passwords in a row (account-locked.md).
    row.failed_logins_24h = rng.randint(5, 8) if state == "locked" else rng.choices((0, 1, 2), (85, 10, 5))[0]
    return row


def _email(customer: Customer, rng: random.Random) -> str:
    words = [re.sub(r"[^a-z0-9]", "", word.lower()) for word in customer.name.split()]
    if customer.tier in ("enterprise", "business") or len(words) > 2:
        return f"accounts@{'-'.join(words[:2])}.example"
    return f"{'.'.join(words)}@{rng.choice(PERSONAL_DOMAINS)}"


def _invoice(customer_id: str, issued: date, amount: int, status: str) -> InvoiceRow:
    suffix = customer_id.removeprefix("cus_")
    invoice_id = f"in_{suffix}_{issued:%Y%m%d}"
    return InvoiceRow(
        id=invoice_id,
        customer_id=customer_id,
        number=f"LUM-{issued:%Y%m%d}-{suffix.upper()}",
        issued_on=issued,
        due_on=issued + timedelta(days=INVOICE_TERMS_DAYS),
        amount_cents=amount,
        currency=CURRENCY,
        status=status,
        pdf_url=PDF_URL.format(id=invoice_id),
    )


def _charge(
    customer_id: str,
    charge_id: str,
    when: datetime,
    description: str,
    amount: int,
    status: str,
    method_id: str,
    duplicate_of: str | None = None,
) -> ChargeRow:
    return ChargeRow(
        id=charge_id,
        customer_id=customer_id,
        created_at=when,
        description=description,
        amount_cents=amount,
        currency=CURRENCY,
        status=status,
        payment_method_id=method_id,
        duplicate_of=duplicate_of,
    )


def _order(
    customer_id: str,
    order_id: str,
    placed: datetime,
    item: str,
    amount: int,
    status: str,
    delivered: datetime | None,
) -> OrderRow:
    return OrderRow(
        id=order_id,
        customer_id=customer_id,
        placed_at=placed,
        item=item,
        amount_cents=amount,
        currency=CURRENCY,
        status=status,
        delivered_at=delivered,
    )


def _pay(
    portfolio: BusinessPortfolio,
    order: OrderRow,
    payment_id: str,
    charge_id: str,
    method: str,
    method_id: str,
    seconds_later: int = 0,
    duplicate_of: str | None = None,
) -> None:
    when = order.placed_at + timedelta(seconds=seconds_later)
    amount = order.amount_cents
    description = _market_description(order)
    charge = _charge(
        order.customer_id, charge_id, when, description, amount, "succeeded", method_id, duplicate_of
    )
    portfolio.charges.append(charge)
    portfolio.payments.append(_payment(payment_id, order.id, charge_id, when, amount, method))


def _market_description(order: OrderRow) -> str:
    return f"Lumora Market order {order.id}: {order.item}"


def _payment(
    payment_id: str, order_id: str, charge_id: str | None, when: datetime, amount: int, method: str
) -> PaymentRow:
    return PaymentRow(
        id=payment_id,
        order_id=order_id,
        charge_id=charge_id,
        created_at=when,
        amount_cents=amount,
        currency=CURRENCY,
        method=method,
        status="succeeded",
        refunded_cents=0,
    )


def _wallet(customer_id: str, method_id: str, default: bool) -> PaymentMethodRow:
    return PaymentMethodRow(
        id=method_id,
        customer_id=customer_id,
        kind="wallet",
        brand="Lumora Wallet",
        last4=None,
        expires=None,
        is_default=default,
    )


def _sepa(customer_id: str, method_id: str, last4: str) -> PaymentMethodRow:
    return PaymentMethodRow(
        id=method_id,
        customer_id=customer_id,
        kind="sepa",
        brand="SEPA Direct Debit",
        last4=last4,
        expires=None,
        is_default=False,
    )


def _card(
    customer_id: str, method_id: str, brand: str, last4: str, expires: str, default: bool
) -> PaymentMethodRow:
    return PaymentMethodRow(
        id=method_id,
        customer_id=customer_id,
        kind="card",
        brand=brand,
        last4=last4,
        expires=expires,
        is_default=default,
    )


def _security(
    customer_id: str, email: str, state: str, method: str, last_login: datetime, today: date
) -> AccountSecurityRow:
    return AccountSecurityRow(
        customer_id=customer_id,
        email=email,
        state=state,
        mfa_enabled=method != "none",
        mfa_method=method,
        last_login_at=last_login,
        failed_logins_24h=0,
        updated_at=at(today, 0),
    )
