"""The company's business data as the specialists' tools see it: JSON-ready records behind one Protocol."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from typing_extensions import TypedDict

ActionName = Literal["issue_refund", "reset_mfa", "downgrade_plan"]
SENSITIVE_ACTIONS: tuple[ActionName, ...] = ("issue_refund", "reset_mfa", "downgrade_plan")
"""Actions that change money or security: a model may only propose them, a person approves, code executes."""

InvoiceStatus = Literal["paid", "open", "overdue"]
ChargeStatus = Literal["succeeded", "pending", "failed", "refunded"]
PlanInterval = Literal["month", "year"]
PaymentMethodKind = Literal["card", "sepa", "wallet"]
AccountState = Literal["active", "locked", "suspended", "pending_verification"]
MfaMethod = Literal["app", "sms", "none"]
OrderStatus = Literal["placed", "shipped", "delivered", "cancelled", "returned"]
PaymentMethodName = Literal["wallet", "card", "pay_in_3", "cash_on_delivery"]
PaymentStatus = Literal["succeeded", "pending", "failed", "refunded", "partially_refunded"]
ComponentStatus = Literal["operational", "degraded", "outage"]
IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
ActionStatus = Literal["executed", "rejected"]

# Money is integer cents with an ISO 4217 currency and times are ISO 8601 strings, so every record
# goes to a model as JSON unchanged and no float rounding reaches an amount.


class Invoice(TypedDict):
    """A subscription invoice."""

    id: str
    number: str
    issued_on: str
    due_on: str
    amount_cents: int
    currency: str
    status: InvoiceStatus
    pdf_url: str


class Charge(TypedDict):
    """A card, wallet or direct-debit charge; `duplicate_of` names the charge it repeats."""

    id: str
    created_at: str
    description: str
    amount_cents: int
    currency: str
    status: ChargeStatus
    payment_method_id: str
    duplicate_of: str | None


class Plan(TypedDict):
    """The customer's current plan; the Free plan renews on no date."""

    name: str
    price_cents: int
    currency: str
    interval: PlanInterval
    renews_on: str | None
    auto_renew: bool


class PaymentMethod(TypedDict):
    """A saved payment method; `expires` is MM/YY for cards and None otherwise."""

    id: str
    kind: PaymentMethodKind
    brand: str
    last4: str | None
    expires: str | None
    default: bool


class AccountStatus(TypedDict):
    """Sign-in state and two-factor setup; the email address only ever masked."""

    state: AccountState
    mfa_enabled: bool
    mfa_method: MfaMethod
    last_login_at: str | None
    failed_logins_24h: int
    email_masked: str


class PasswordReset(TypedDict):
    """A reset link sent to the address on file; `sent` is False when there is no address to send to."""

    sent: bool
    sent_to: str | None
    expires_at: str | None


class Order(TypedDict):
    """A Lumora Market order."""

    id: str
    placed_at: str
    item: str
    amount_cents: int
    currency: str
    status: OrderStatus
    delivered_at: str | None


class Payment(TypedDict):
    """One payment taken for an order, and how much of it has been refunded."""

    id: str
    order_id: str
    created_at: str
    amount_cents: int
    currency: str
    method: PaymentMethodName
    status: PaymentStatus
    refunded_cents: int


class RefundEligibility(TypedDict):
    """Whether the refund policy allows a refund, and how much paid money is not yet refunded."""

    order_id: str
    eligible: bool
    refundable_cents: int
    currency: str
    reason: str


class ServiceComponent(TypedDict):
    """One component of the public status page."""

    component: str
    status: ComponentStatus
    updated_at: str


class Incident(TypedDict):
    """A current or recent incident; `affects_customer` is judged by the customer's region and products."""

    id: str
    title: str
    status: IncidentStatus
    started_at: str
    components: list[str]
    affects_customer: bool
    workaround: str | None


class ProposedAction(TypedDict):
    """A sensitive action a person approved: issue_refund {order_id, amount_cents}, reset_mfa {},
    downgrade_plan {plan}; an optional `reason` string is accepted with any of them."""

    name: ActionName
    customer_id: str
    arguments: dict[str, Any]


class ActionResult(TypedDict):
    """What executing an action did; the same idempotency key always gives back the same result."""

    action: str
    idempotency_key: str
    status: ActionStatus
    detail: str
    executed_at: str
    reference: str | None


class BusinessData(Protocol):
    """The company's systems of record, read and changed on behalf of one customer at a time.

    The customer id always comes from the conversation, never from a model, and every lookup is
    scoped to it: another customer's order reads as no order at all.
    """

    async def invoices(self, customer_id: str, limit: int = 5) -> list[Invoice]:
        """The most recent invoices, newest first."""
        ...

    async def charges(self, customer_id: str, limit: int = 10) -> list[Charge]:
        """The most recent charges, newest first."""
        ...

    async def plan(self, customer_id: str) -> Plan | None:
        """The current plan, or None for an unknown customer."""
        ...

    async def payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        """The saved payment methods, the default first."""
        ...

    async def account_status(self, customer_id: str) -> AccountStatus | None:
        """Sign-in state and two-factor setup, or None for an unknown customer."""
        ...

    async def password_reset_link(self, customer_id: str, idempotency_key: str) -> PasswordReset:
        """Send a reset link to the address on file; only the masked address is returned. The same key
        returns the link already sent and sends none."""
        ...

    async def orders(self, customer_id: str, limit: int = 10) -> list[Order]:
        """The most recent orders, newest first."""
        ...

    async def payments(self, customer_id: str, order_id: str) -> list[Payment]:
        """The payments of one of the customer's orders; [] when the order is not theirs."""
        ...

    async def refund_eligibility(self, customer_id: str, order_id: str) -> RefundEligibility:
        """Whether the refund policy allows refunding the order, with the reason in one sentence."""
        ...

    async def service_status(self) -> list[ServiceComponent]:
        """Every component of the status page."""
        ...

    async def incidents(self, customer_id: str) -> list[Incident]:
        """Open and recently resolved incidents, open ones first."""
        ...

    async def execute(self, action: ProposedAction, idempotency_key: str) -> ActionResult:
        """Re-check and perform an approved action exactly once per idempotency key."""
        ...
