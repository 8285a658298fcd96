"""enrich: attach who the customer is and the message's vector, computed once for the whole turn."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State


def enrich(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Embed the message once (triage and retrieval reuse it) and bind the customer."""
    vector = runtime.context.toolkit.embedder.embed_one(state.text)
    return {
        "vector": vector.tolist(),
        "customer_id": runtime.context.customer_id or state.customer_id,
    }
