"""What identifies a demo customer's data: strings that must never reach another customer's conversation.

Read from the same deterministic seed the servers fill their empty stores with.
"""

from __future__ import annotations

from functools import cache

from app.store.business import mask_email
from app.store.business_portfolio import BusinessPortfolio, business_portfolio
from app.store.models import Customer
from app.store.portfolio import demo_portfolio


@cache
def _customers() -> dict[str, Customer]:
    return {customer.id: customer for customer in demo_portfolio()}


@cache
def _seeded() -> BusinessPortfolio:
    return business_portfolio(list(_customers().values()))


@cache
def identifiers(customer_id: str) -> frozenset[str]:
    """The customer's id and name, addresses (in clear and masked), and the ids and numbers of its
    invoices, charges, orders, payments and payment methods."""
    seeded, customer = _seeded(), _customers()[customer_id]
    orders = {row.id for row in seeded.orders if row.customer_id == customer_id}
    found = {customer.id, customer.name, *orders}
    found |= {row.id for row in seeded.invoices if row.customer_id == customer_id}
    found |= {row.number for row in seeded.invoices if row.customer_id == customer_id}
    found |= {row.id for row in seeded.charges if row.customer_id == customer_id}
    found |= {row.id for row in seeded.payments if row.order_id in orders}
    found |= {row.id for row in seeded.payment_methods if row.customer_id == customer_id}
    for row in seeded.security:
        if row.customer_id == customer_id:
            found |= {row.email, mask_email(row.email)}
    return frozenset(found)


@cache
def order_items(customer_id: str) -> frozenset[str]:
    """What the customer bought (names other customers' orders may share)."""
    return frozenset(row.item for row in _seeded().orders if row.customer_id == customer_id)


def leaked(text: str, customer_id: str, besides: frozenset[str] = frozenset()) -> list[str]:
    """The customer's identifiers that occur in `text`, apart from `besides` (what the reader typed)."""
    return sorted(marker for marker in identifiers(customer_id) - besides if marker in text)
