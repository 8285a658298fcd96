"""The graph for LangGraph Studio and Agent Server (`langgraph.json`): the loaded models as context defaults.

Studio sends a run's context as JSON, but the nodes need the loaded models (a `Toolkit`) and other
objects no JSON can carry. `make_graph` compiles the graph with `StudioContext`, a Context whose
defaults are loaded once per process from Settings; Studio may set only the customer and the channel.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema

from agents.toolkit import Toolkit
from app.settings import Settings
from app.store.portfolio import FREE_ID, VIP_ID, demo_portfolio, facts_of
from graph.builder import RouterGraph, compile_graph
from graph.context import Context
from graph.customers import CustomerDirectory, StaticCustomers
from knowledge.store import IndexMissingError


@cache
def studio_settings() -> Settings:
    """The settings of the process Studio runs the graph in (SUPPORT_ROUTER_* variables, `.env`)."""
    return Settings()


@cache
def studio_toolkit() -> Toolkit:
    """The embedder, triage head and knowledge index the settings name, loaded once."""
    settings = studio_settings()
    return settings.load_toolkit()


@cache
def studio_customers() -> StaticCustomers:
    """The demo portfolio's routing facts in memory: Studio runs open no app store."""
    return StaticCustomers({customer.id: facts_of(customer) for customer in demo_portfolio()})


def _from_settings(name: str) -> Any:
    """A field whose default is the setting of the same name."""
    return field(default_factory=lambda: getattr(studio_settings(), name))


class StudioRunSettings(BaseModel):
    """What a Studio user may set for a run; everything else comes from the process's settings."""

    customer_id: str | None = Field(
        default=None, description=f"A demo customer, e.g. {VIP_ID} or {FREE_ID}; none routes as unknown."
    )
    channel: Literal["chat", "email", "web", "mobile", "api"] = Field(
        default="chat", description="Where the message arrived; policies may route by it."
    )


@dataclass(frozen=True)
class StudioContext(Context):
    """A Context that a run started from JSON can build: the models and thresholds are defaults."""

    toolkit: Toolkit = field(default_factory=studio_toolkit)
    customers: CustomerDirectory | None = field(default_factory=studio_customers)
    new_issue_threshold: float = _from_settings("new_issue_threshold")
    retrieval_max_distance: float = _from_settings("retrieval_max_distance")
    top_k: int = _from_settings("top_k")
    loop_guard_window: int = _from_settings("loop_guard_window")
    loop_guard_max_switches: int = _from_settings("loop_guard_max_switches")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # The context's JSON schema (what Studio shows, and what the Agent Server filters a run's
        # context by) is that of the settings a user may send, not of the loaded objects.
        return handler(StudioRunSettings)


async def make_graph() -> RouterGraph:
    """The router for `langgraph.json`; the Agent Server supplies the checkpointer.

    The models load on the first call, in a thread (the server calls this on its event loop), and a
    missing model or an empty index fails that call rather than a run.
    """
    knowledge = (await asyncio.to_thread(studio_toolkit)).knowledge
    if await asyncio.to_thread(knowledge.count) == 0:
        where = studio_settings().chroma_url or studio_settings().index_dir
        raise IndexMissingError(f"the knowledge index in {where} is empty; run `support-router kb ingest`")
    return compile_graph(None, context_schema=StudioContext)
