"""The customer directory the graph asks for routing facts: one async method any CRM can implement."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Protocol

from graph.policy.value import CustomerFacts

LOW_SATISFACTION = 3.0
"""Average satisfaction below this counts as a churn signal of its own."""


class CustomerDirectory(Protocol):
    """Where the graph looks up who a customer is; the graph sees nothing but `CustomerFacts`.

    The app's SQL store implements it (`app.store.customers.CustomerStore`), `StaticCustomers` does so
    in memory. To plug a team's CRM in, implement this one method, for example an HTTP call to the CRM
    with a short timeout and a small cache, map its record to `CustomerFacts` (derive churn risk with
    `churn_signals` so every directory agrees), and point
    `SUPPORT_ROUTER_CUSTOMER_DIRECTORY=package.module:factory` at a factory that takes the settings and
    returns the directory. Return None for an unknown customer; raise only when the CRM cannot answer.
    """

    async def facts(self, customer_id: str) -> CustomerFacts | None:
        """The routing facts of one customer, or None when unknown."""
        ...


def churn_signals(signals: Sequence[str], satisfaction: float | None) -> list[str]:
    """The recorded signals, plus `low_satisfaction` below LOW_SATISFACTION; no duplicates, order kept."""
    derived = list(signals)
    if satisfaction is not None and satisfaction < LOW_SATISFACTION:
        derived.append("low_satisfaction")
    return list(dict.fromkeys(derived))


class StaticCustomers:
    """An in-memory directory from a mapping of id to facts, for tests, evals and runs without a store."""

    def __init__(self, customers: Mapping[str, CustomerFacts]) -> None:
        # Copied in and out, so neither the caller nor a node can change what the next lookup sees.
        self._customers = {customer_id: copy.deepcopy(facts) for customer_id, facts in customers.items()}

    async def facts(self, customer_id: str) -> CustomerFacts | None:
        """A copy of the customer's facts, or None when unknown."""
        facts = self._customers.get(customer_id)
        return copy.deepcopy(facts) if facts is not None else None
