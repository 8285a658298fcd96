"""The demo company's business data in the app store: the specialists' lookups and approved actions."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agents.tools.business import (
    AccountState,
    AccountStatus,
    ActionResult,
    ActionStatus,
    Charge,
    ChargeStatus,
    ComponentStatus,
    Incident,
    IncidentStatus,
    Invoice,
    InvoiceStatus,
    MfaMethod,
    Order,
    OrderStatus,
    PasswordReset,
    Payment,
    PaymentMethod,
    PaymentMethodKind,
    PaymentMethodName,
    PaymentStatus,
    Plan,
    PlanInterval,
    ProposedAction,
    RefundEligibility,
    ServiceComponent,
)
from app.store.business_models import (
    AccountSecurityRow,
    ChargeRow,
    ExecutedActionRow,
    IncidentRow,
    InvoiceRow,
    OrderRow,
    PasswordResetRow,
    PaymentMethodRow,
    PaymentRow,
    PlanRow,
    RefundRow,
    ServiceComponentRow,
    SubscriptionRow,
)
from app.store.business_portfolio import CURRENCY, REFUND_WINDOW_DAYS, at, business_portfolio
from app.store.database import Sessions
from app.store.models import Customer, utcnow
from app.store.portfolio import DEMO_EPOCH, demo_portfolio

MAX_LIMIT = 50
"""The most records one lookup returns: a limit can come from a model's tool call."""
MAX_KEY_CHARS = 200
RESET_LINK_LIFETIME = timedelta(minutes=30)
"""A reset link is valid for 30 minutes (knowledge/articles/access/reset-password.md)."""
RECENTLY_RESOLVED = timedelta(days=7)
REFUNDABLE = ("succeeded", "partially_refunded")
ACTION_ARGUMENTS = {
    "issue_refund": {"order_id", "amount_cents"},
    "reset_mfa": set(),
    "downgrade_plan": {"plan"},
}
OPTIONAL_ARGUMENTS = {"reason"}
"""Accepted with any action and not acted on: the approval carries why the action was proposed."""


class BusinessStore:
    """The SQL systems of record (an `agents.tools.business.BusinessData`); every lookup is one customer's.

    Refund windows and ages count from `today`, the demo's date, because the demo data is dated from it;
    the moments actions happen (refunds, resets, executions) are the clock's.
    """

    def __init__(self, sessions: Sessions, today: date = DEMO_EPOCH) -> None:
        self._sessions = sessions
        self._today = today

    async def invoices(self, customer_id: str, limit: int = 5) -> list[Invoice]:
        """The most recent invoices, newest first."""
        query = select(InvoiceRow).where(InvoiceRow.customer_id == customer_id)
        query = query.order_by(InvoiceRow.issued_on.desc(), InvoiceRow.id.desc()).limit(_bounded(limit))
        return [_invoice(row) for row in await self._all(query)]

    async def charges(self, customer_id: str, limit: int = 10) -> list[Charge]:
        """The most recent charges, newest first."""
        query = select(ChargeRow).where(ChargeRow.customer_id == customer_id)
        query = query.order_by(ChargeRow.created_at.desc(), ChargeRow.id.desc()).limit(_bounded(limit))
        return [_charge(row) for row in await self._all(query)]

    async def plan(self, customer_id: str) -> Plan | None:
        """The current plan, or None for an unknown customer."""
        query = select(SubscriptionRow, PlanRow).join(PlanRow, PlanRow.id == SubscriptionRow.plan_id)
        async with self._sessions() as session:
            found = (await session.execute(query.where(SubscriptionRow.customer_id == customer_id))).first()
        if found is None:
            return None
        subscription, plan = found
        return Plan(
            name=plan.name,
            price_cents=plan.price_cents,
            currency=plan.currency,
            interval=cast(PlanInterval, plan.interval),
            renews_on=_day(subscription.renews_on),
            auto_renew=subscription.auto_renew,
        )

    async def payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        """The saved payment methods, the default first."""
        query = select(PaymentMethodRow).where(PaymentMethodRow.customer_id == customer_id)
        query = query.order_by(PaymentMethodRow.is_default.desc(), PaymentMethodRow.id)
        return [_payment_method(row) for row in await self._all(query)]

    async def account_status(self, customer_id: str) -> AccountStatus | None:
        """Sign-in state and two-factor setup, or None for an unknown customer."""
        async with self._sessions() as session:
            row = await session.get(AccountSecurityRow, customer_id)
        if row is None:
            return None
        return AccountStatus(
            state=cast(AccountState, row.state),
            mfa_enabled=row.mfa_enabled,
            mfa_method=cast(MfaMethod, row.mfa_method),
            last_login_at=_moment(row.last_login_at),
            failed_logins_24h=row.failed_logins_24h,
            email_masked=mask_email(row.email),
        )

    async def password_reset_link(self, customer_id: str, idempotency_key: str) -> PasswordReset:
        """Record a reset link sent to the address on file; only the masked address leaves the store.

        The key is unique (the turn's, see graph/nodes/specialist.py): the same key returns the link
        already sent and sends none, so a turn run again after a crash does not email a second link.
        """
        _check_key(idempotency_key)
        try:
            async with self._sessions.begin() as session:
                sent = await _sent_reset(session, customer_id, idempotency_key)
                if sent is not None:
                    return _reset(sent)
                security = await session.get(AccountSecurityRow, customer_id)
                if security is None:
                    return PasswordReset(sent=False, sent_to=None, expires_at=None)
                now = utcnow()
                reset = PasswordResetRow(
                    customer_id=customer_id,
                    sent_to=mask_email(security.email),
                    created_at=now,
                    expires_at=now + RESET_LINK_LIFETIME,
                    idempotency_key=idempotency_key,
                )
                session.add(reset)
        except IntegrityError:
            # Another call with this key committed first; ours was rolled back: answer with its link.
            async with self._sessions() as session:
                sent = await _sent_reset(session, customer_id, idempotency_key)
            if sent is None:
                raise
            return _reset(sent)
        return _reset(reset)

    async def orders(self, customer_id: str, limit: int = 10) -> list[Order]:
        """The most recent Market orders, newest first."""
        query = select(OrderRow).where(OrderRow.customer_id == customer_id)
        query = query.order_by(OrderRow.placed_at.desc(), OrderRow.id.desc()).limit(_bounded(limit))
        return [_order(row) for row in await self._all(query)]

    async def payments(self, customer_id: str, order_id: str) -> list[Payment]:
        """The payments of one of the customer's orders, oldest first; [] when the order is not theirs."""
        async with self._sessions() as session:
            rows = await _order_payments(session, customer_id, order_id)
        return [_payment(row) for row in sorted(rows, key=lambda row: (row.created_at, row.id))]

    async def refund_eligibility(self, customer_id: str, order_id: str) -> RefundEligibility:
        """Whether the refund policy allows a refund; `refundable_cents` is what was paid and not refunded."""
        async with self._sessions() as session:
            order = await _owned_order(session, customer_id, order_id)
            payments = await _order_payments(session, customer_id, order_id) if order is not None else []
        if order is None:
            return RefundEligibility(
                order_id=order_id,
                eligible=False,
                refundable_cents=0,
                currency=CURRENCY,
                reason="no such order for this customer",
            )
        refundable = _refundable(payments)
        eligible, reason = _judge(order, payments, refundable, self._today)
        return RefundEligibility(
            order_id=order.id,
            eligible=eligible,
            refundable_cents=refundable,
            currency=order.currency,
            reason=reason,
        )

    async def service_status(self) -> list[ServiceComponent]:
        """Every component of the status page, in the page's order."""
        rows = await self._all(select(ServiceComponentRow).order_by(ServiceComponentRow.position))
        return [
            ServiceComponent(
                component=row.name,
                status=cast(ComponentStatus, row.status),
                updated_at=row.updated_at.isoformat(),
            )
            for row in rows
        ]

    async def incidents(self, customer_id: str) -> list[Incident]:
        """Open incidents and those resolved in the last week, open first; public, so for any customer."""
        recent = at(self._today, 0) - RECENTLY_RESOLVED
        query = select(IncidentRow).where(
            (IncidentRow.resolved_at.is_(None)) | (IncidentRow.resolved_at >= recent)
        )
        async with self._sessions() as session:
            customer = await session.get(Customer, customer_id)
            rows = list(await session.scalars(query.order_by(IncidentRow.started_at.desc(), IncidentRow.id)))
        rows.sort(key=lambda row: row.status == "resolved")  # stable: open first, each newest first
        return [_incident(row, customer) for row in rows]

    async def execute(self, action: ProposedAction, idempotency_key: str) -> ActionResult:
        """Re-check and perform an approved action; the same key returns the first result and changes nothing.

        The change and its result row commit together, and the key is unique, so a re-run node or a
        racing second call finds the stored result instead of acting twice.
        """
        _check_key(idempotency_key)
        try:
            async with self._sessions.begin() as session:
                stored = await _stored(session, idempotency_key)
                if stored is not None:
                    return _replay(stored, action)
                outcome = await _perform(session, action, idempotency_key)
                row = _result_row(action, idempotency_key, outcome)
                session.add(row)
                await session.flush()
                return _result(row)
        except IntegrityError:
            # Another call with this key committed first; our transaction, change included, was rolled back.
            async with self._sessions() as session:
                stored = await _stored(session, idempotency_key)
            if stored is None:
                raise
            return _replay(stored, action)

    async def executed_actions(self, customer_id: str | None = None) -> list[ActionResult]:
        """Every approved action's result (of one customer, when given), oldest first."""
        query = select(ExecutedActionRow).order_by(ExecutedActionRow.id)
        if customer_id is not None:
            query = query.where(ExecutedActionRow.customer_id == customer_id)
        return [_result(row) for row in await self._all(query)]

    async def seed_demo_if_empty(self, count: int = 300) -> int:
        """Insert the demo business data for the demo portfolio's customers into empty tables.

        Returns for how many customers it was inserted (0 if the plans catalogue was not empty).
        """
        try:
            async with self._sessions.begin() as session:
                if await session.scalar(select(func.count()).select_from(PlanRow)):
                    return 0
                seed = _demo_seed(count)
                for table, rows in seed:
                    # One table at a time, so foreign keys always find the rows they point at.
                    await session.execute(insert(table), list(rows))
        except IntegrityError:
            # Another process seeded between our count and our insert: its data is the same data.
            return 0
        return count

    async def _all(self, query: Any) -> Sequence[Any]:
        async with self._sessions() as session:
            return list(await session.scalars(query))


@dataclass(frozen=True)
class _Outcome:
    status: ActionStatus
    detail: str
    reference: str | None = None


def _rejected(detail: str) -> _Outcome:
    return _Outcome("rejected", detail)


def mask_email(address: str) -> str:
    """j***@b***.com for jane@bank.com: enough for a customer to recognise, too little to reuse."""
    local, _, domain = address.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not host:
        host, dot, tld = domain, "", ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def money(cents: int, currency: str = CURRENCY) -> str:
    """EUR 14.90 for 1490 cents."""
    return f"{currency} {cents // 100}.{cents % 100:02d}"


@functools.cache
def _demo_seed(count: int) -> tuple[tuple[Table, tuple[dict[str, Any], ...]], ...]:
    # Built once per process as plain insert parameters: every start of the app on an empty store seeds,
    # and making thousands of ORM objects each time cost more than inserting them.
    portfolio = business_portfolio(demo_portfolio(count))
    return tuple(
        (table, tuple({column.key: getattr(row, column.key) for column in table.columns} for row in rows))
        for table, rows in portfolio.tables()
    )


def _check_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > MAX_KEY_CHARS:
        raise ValueError(f"an idempotency key must have 1 to {MAX_KEY_CHARS} characters")


async def _sent_reset(
    session: AsyncSession, customer_id: str, idempotency_key: str
) -> PasswordResetRow | None:
    query = select(PasswordResetRow).where(PasswordResetRow.idempotency_key == idempotency_key)
    sent = cast(PasswordResetRow | None, await session.scalar(query))
    if sent is not None and sent.customer_id != customer_id:
        raise ValueError("this idempotency key was already used for another customer's reset link")
    return sent


def _reset(row: PasswordResetRow) -> PasswordReset:
    return PasswordReset(sent=True, sent_to=row.sent_to, expires_at=row.expires_at.isoformat())


def _bounded(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _days_ago(days: int) -> str:
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


async def _owned_order(session: AsyncSession, customer_id: str, order_id: str) -> OrderRow | None:
    # The customer id is part of every order query: another customer's order reads as no order.
    query = select(OrderRow).where(OrderRow.id == order_id, OrderRow.customer_id == customer_id)
    return cast(OrderRow | None, await session.scalar(query))


async def _order_payments(
    session: AsyncSession, customer_id: str, order_id: str, lock: bool = False
) -> list[PaymentRow]:
    query = (
        select(PaymentRow)
        .join(OrderRow, OrderRow.id == PaymentRow.order_id)
        .where(PaymentRow.order_id == order_id, OrderRow.customer_id == customer_id)
        .order_by(PaymentRow.created_at.desc(), PaymentRow.id.desc())
    )
    if lock:
        # Rows locked until commit on databases that lock (SQLite writers already queue in Sessions).
        query = query.with_for_update(of=PaymentRow)
    return list(await session.scalars(query))


def _refundable(payments: Sequence[PaymentRow]) -> int:
    return sum(row.amount_cents - row.refunded_cents for row in payments if row.status in REFUNDABLE)


def _judge(order: OrderRow, payments: Sequence[PaymentRow], refundable: int, today: date) -> tuple[bool, str]:
    """The refund policy of knowledge/articles/refunds: cancel before shipping, return within 30 days."""
    if refundable == 0:
        if not payments:
            return False, "nothing has been paid for this order yet"
        return False, "everything paid for this order has already been refunded"
    if order.status == "placed":
        return True, "not shipped yet, so it can be cancelled and refunded in full"
    if order.status == "cancelled":
        return True, "cancelled before shipping; the payment is due back in full"
    if order.status == "shipped" or order.delivered_at is None:
        return False, f"on its way: it can be returned within {REFUND_WINDOW_DAYS} days of delivery"
    days = (today - order.delivered_at.date()).days
    if order.status == "returned":
        return True, f"returned after delivery {_days_ago(days)}; the refund is due"
    if days <= REFUND_WINDOW_DAYS:
        return True, f"delivered {_days_ago(days)}, within the {REFUND_WINDOW_DAYS}-day window"
    return False, f"delivered {_days_ago(days)}, outside the {REFUND_WINDOW_DAYS}-day window"


def _incident(row: IncidentRow, customer: Customer | None) -> Incident:
    affects = (
        customer is not None
        and row.status != "resolved"
        and (not row.regions or customer.region in row.regions)
        and (not row.products or bool(set(row.products) & set(customer.products)))
    )
    return Incident(
        id=row.id,
        title=row.title,
        status=cast(IncidentStatus, row.status),
        started_at=row.started_at.isoformat(),
        components=list(row.components),
        affects_customer=affects,
        workaround=row.workaround,
    )


async def _stored(session: AsyncSession, key: str) -> ExecutedActionRow | None:
    query = select(ExecutedActionRow).where(ExecutedActionRow.idempotency_key == key)
    return cast(ExecutedActionRow | None, await session.scalar(query))


def _essentials(name: object, customer_id: object, arguments: object) -> tuple[object, object, object]:
    # What makes two requests the same action: the reason text may be worded differently on a re-run.
    if isinstance(arguments, dict):
        arguments = {key: value for key, value in arguments.items() if key not in OPTIONAL_ARGUMENTS}
    return name, customer_id, arguments


def _replay(stored: ExecutedActionRow, action: ProposedAction) -> ActionResult:
    asked = _essentials(action.get("name"), action.get("customer_id"), action.get("arguments"))
    if asked != _essentials(stored.action, stored.customer_id, stored.arguments):
        # Never report another action's result as this one's, and never run this one under a spent key.
        return ActionResult(
            action=str(action.get("name")),
            idempotency_key=stored.idempotency_key,
            status="rejected",
            detail="this idempotency key was already used for a different action",
            executed_at=utcnow().isoformat(),
            reference=None,
        )
    return _result(stored)


def _result(row: ExecutedActionRow) -> ActionResult:
    return ActionResult(
        action=row.action,
        idempotency_key=row.idempotency_key,
        status=cast(ActionStatus, row.status),
        detail=row.detail,
        executed_at=row.executed_at.isoformat(),
        reference=row.reference,
    )


def _result_row(action: ProposedAction, key: str, outcome: _Outcome) -> ExecutedActionRow:
    arguments = action.get("arguments")
    return ExecutedActionRow(
        idempotency_key=key,
        action=str(action.get("name"))[:32],
        customer_id=str(action.get("customer_id"))[:128],
        arguments=dict(arguments) if isinstance(arguments, dict) else {},
        status=outcome.status,
        detail=outcome.detail,
        reference=outcome.reference,
        executed_at=utcnow(),
    )


Handler = Callable[[AsyncSession, str, dict[str, Any], str], Awaitable[_Outcome]]


async def _perform(session: AsyncSession, action: ProposedAction, key: str) -> _Outcome:
    name, customer_id, arguments = action.get("name"), action.get("customer_id"), action.get("arguments")
    handler = _HANDLERS.get(str(name))
    if handler is None:
        return _rejected(f"unknown action {name!r}")
    if not isinstance(customer_id, str) or not customer_id:
        return _rejected("the action names no customer")
    if not isinstance(arguments, dict):
        return _rejected("the arguments must be an object")
    unexpected = set(arguments) - ACTION_ARGUMENTS[str(name)] - OPTIONAL_ARGUMENTS
    if unexpected:
        return _rejected(f"unexpected arguments for {name}: {', '.join(sorted(unexpected))}")
    return await handler(session, customer_id, arguments, key)


def _reference(prefix: str, key: str) -> str:
    # Derived from the key, so the reference a customer is given is the same however often it is asked for.
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:16]}"


async def _issue_refund(
    session: AsyncSession, customer_id: str, arguments: dict[str, Any], key: str
) -> _Outcome:
    order_id, amount = arguments.get("order_id"), arguments.get("amount_cents")
    if not isinstance(order_id, str) or not order_id:
        return _rejected("order_id must name an order")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return _rejected("amount_cents must be a positive whole number of cents")
    order = await _owned_order(session, customer_id, order_id)
    if order is None:
        return _rejected(f"no order {order_id} for this customer")
    payments = await _order_payments(session, customer_id, order_id, lock=True)
    refundable = _refundable(payments)
    if amount > refundable:
        left = money(refundable, order.currency)
        return _rejected(
            f"{money(amount, order.currency)} is more than the {left} left to refund on {order_id}"
        )
    await _apply_refund(session, payments, amount)
    reference = _reference("re", key)
    session.add(
        RefundRow(
            id=reference,
            order_id=order_id,
            customer_id=customer_id,
            amount_cents=amount,
            currency=order.currency,
            idempotency_key=key,
            created_at=utcnow(),
        )
    )
    detail = (
        f"refunded {money(amount, order.currency)} of order {order_id} ({order.item}) to the payment method"
    )
    return _Outcome("executed", detail, reference)


async def _apply_refund(session: AsyncSession, payments: Sequence[PaymentRow], amount: int) -> None:
    # Newest payment first: when an order was paid twice, the duplicate is the one given back.
    remaining = amount
    for payment in payments:
        if remaining == 0 or payment.status not in REFUNDABLE:
            continue
        take = min(remaining, payment.amount_cents - payment.refunded_cents)
        payment.refunded_cents += take
        remaining -= take
        payment.status = (
            "refunded" if payment.refunded_cents == payment.amount_cents else "partially_refunded"
        )
        if payment.status == "refunded" and payment.charge_id is not None:
            charge = await session.get(ChargeRow, payment.charge_id)
            if charge is not None:
                charge.status = "refunded"


async def _reset_mfa(
    session: AsyncSession, customer_id: str, arguments: dict[str, Any], key: str
) -> _Outcome:
    security = await session.get(AccountSecurityRow, customer_id, with_for_update=True)
    if security is None:
        return _rejected("no account for this customer")
    if not security.mfa_enabled:
        return _rejected("two-factor authentication is already reset and waits for the customer to enrol")
    previous = security.mfa_method
    security.mfa_enabled, security.mfa_method, security.updated_at = False, "none", utcnow()
    detail = (
        f"two-factor authentication by {previous} was reset; the customer enrols again at the next sign-in"
    )
    return _Outcome("executed", detail, _reference("mfa", key))


async def _downgrade_plan(
    session: AsyncSession, customer_id: str, arguments: dict[str, Any], key: str
) -> _Outcome:
    wanted = arguments.get("plan")
    if not isinstance(wanted, str) or not wanted.strip():
        return _rejected("plan must name a plan")
    subscription = await session.get(SubscriptionRow, customer_id, with_for_update=True)
    if subscription is None:
        return _rejected("no plan for this customer")
    current = await session.get(PlanRow, subscription.plan_id)
    if current is None:
        return _rejected(f"the customer's plan {subscription.plan_id} is not in the catalogue")
    catalogue = list(await session.scalars(select(PlanRow).order_by(PlanRow.price_cents)))
    target = _catalogue_plan(catalogue, wanted, current.interval)
    if target is None:
        names = ", ".join(dict.fromkeys(plan.name for plan in catalogue))
        return _rejected(f"no plan called {wanted!r}; the plans are {names}")
    if target.price_cents >= current.price_cents:
        return _rejected(f"{target.name} is not cheaper than the current {current.name}")
    renews_on = subscription.renews_on
    subscription.plan_id, subscription.updated_at = target.id, utcnow()
    if target.price_cents == 0:
        subscription.renews_on, subscription.auto_renew = None, False
    until = f"; {current.name} stays until {renews_on.isoformat()}" if renews_on is not None else ""
    detail = (
        f"moved from {current.name} to {target.name} ({money(target.price_cents)} a {target.interval}){until}"
    )
    return _Outcome("executed", detail, _reference("plan", key))


def _catalogue_plan(catalogue: Sequence[PlanRow], wanted: str, interval: str) -> PlanRow | None:
    """The plan a person or a model named ("Plus", "plus plan"), at the customer's billing interval."""
    stem = wanted.strip().lower().removesuffix(" plan")
    named = [plan for plan in catalogue if plan.name.lower().removesuffix(" plan") == stem]
    same_interval = [plan for plan in named if plan.interval == interval]
    return next(iter(same_interval + named), None)


_HANDLERS: dict[str, Handler] = {
    "issue_refund": _issue_refund,
    "reset_mfa": _reset_mfa,
    "downgrade_plan": _downgrade_plan,
}


def _invoice(row: InvoiceRow) -> Invoice:
    return Invoice(
        id=row.id,
        number=row.number,
        issued_on=row.issued_on.isoformat(),
        due_on=row.due_on.isoformat(),
        amount_cents=row.amount_cents,
        currency=row.currency,
        status=cast(InvoiceStatus, row.status),
        pdf_url=row.pdf_url,
    )


def _charge(row: ChargeRow) -> Charge:
    return Charge(
        id=row.id,
        created_at=row.created_at.isoformat(),
        description=row.description,
        amount_cents=row.amount_cents,
        currency=row.currency,
        status=cast(ChargeStatus, row.status),
        payment_method_id=row.payment_method_id,
        duplicate_of=row.duplicate_of,
    )


def _payment_method(row: PaymentMethodRow) -> PaymentMethod:
    return PaymentMethod(
        id=row.id,
        kind=cast(PaymentMethodKind, row.kind),
        brand=row.brand,
        last4=row.last4,
        expires=row.expires,
        default=row.is_default,
    )


def _order(row: OrderRow) -> Order:
    return Order(
        id=row.id,
        placed_at=row.placed_at.isoformat(),
        item=row.item,
        amount_cents=row.amount_cents,
        currency=row.currency,
        status=cast(OrderStatus, row.status),
        delivered_at=_moment(row.delivered_at),
    )


def _payment(row: PaymentRow) -> Payment:
    return Payment(
        id=row.id,
        order_id=row.order_id,
        created_at=row.created_at.isoformat(),
        amount_cents=row.amount_cents,
        currency=row.currency,
        method=cast(PaymentMethodName, row.method),
        status=cast(PaymentStatus, row.status),
        refunded_cents=row.refunded_cents,
    )
