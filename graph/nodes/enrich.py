"""enrich: the message's vector, computed once for the whole turn, and who the customer is."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.policy.value import CustomerFacts
from graph.state import State


async def _facts(context: Context, customer_id: str | None) -> CustomerFacts | None:
    if customer_id is None or context.customers is None:
        return None
    return await context.customers.facts(customer_id)


async def enrich(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Embed the message (triage and retrieval reuse it) while the customer's facts are looked up."""
    context = runtime.context
    customer_id = context.customer_id or state.customer_id
    # The forward pass releases the GIL, so the lookup's round trips overlap with it.
    vector, customer = await asyncio.gather(
        asyncio.to_thread(context.toolkit.embedder.embed_one, state.text), _facts(context, customer_id)
    )
    return {"vector": vector.tolist(), "customer_id": customer_id, "customer": customer}
