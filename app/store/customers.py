"""Customers: the full profiles reviewers read, and the routing facts the graph gets through `facts`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.store.database import Sessions
from app.store.models import Customer, utcnow
from app.store.portfolio import demo_portfolio, facts_of
from graph.policy.value import CustomerFacts


class CustomerStore:
    """The SQL customer directory (a `graph.customers.CustomerDirectory`); it caches nothing."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def facts(self, customer_id: str) -> CustomerFacts | None:
        """The routing facts of one customer, or None when unknown."""
        customer = await self.get(customer_id)
        return facts_of(customer) if customer is not None else None

    async def get(self, customer_id: str) -> Customer | None:
        """The full profile of one customer, for reviewers."""
        async with self._sessions() as session:
            return await session.get(Customer, customer_id)

    async def upsert(self, customers: Sequence[Customer]) -> int:
        """Insert new customers and overwrite existing ones by id; returns how many were written."""
        async with self._sessions.begin() as session:
            for customer in customers:
                # merge copies the row into the session, so the caller's objects stay unattached.
                merged = await session.merge(customer)
                if customer.updated_at is None:
                    merged.updated_at = utcnow()
        return len(customers)

    async def count(self) -> int:
        """How many customers there are."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)

    async def seed_demo_if_empty(self, count: int = 300) -> int:
        """Insert the demo portfolio into an empty table; returns how many were inserted (0 if not empty)."""
        try:
            async with self._sessions.begin() as session:
                if await session.scalar(select(func.count()).select_from(Customer)):
                    return 0
                portfolio = demo_portfolio(count)
                session.add_all(portfolio)
        except IntegrityError:
            # Another process seeded between our count and our insert: its portfolio is the same one.
            return 0
        return len(portfolio)

    async def list(self, tier: str | None = None, limit: int = 100, offset: int = 0) -> list[Customer]:
        """Customers by id, optionally of one tier, one page at a time."""
        query = select(Customer).order_by(Customer.id).limit(limit).offset(offset)
        if tier is not None:
            query = query.where(Customer.tier == tier)
        async with self._sessions() as session:
            return list(await session.scalars(query))
