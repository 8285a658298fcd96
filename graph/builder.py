"""Wiring: intake → enrich → triage → route → specialist | escalate → finalize."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.specialists.routing import SPECIALISTS
from graph.context import Context
from graph.nodes.enrich import enrich
from graph.nodes.escalate import escalate
from graph.nodes.finalize import finalize
from graph.nodes.intake import intake
from graph.nodes.route import route
from graph.nodes.specialist import make_specialist
from graph.nodes.triage import triage
from graph.state import InputState, State

RouterGraph = CompiledStateGraph[State, Context, InputState, State]


def build_graph(context_schema: type[Context] = Context) -> StateGraph[State, Context, InputState, State]:
    """The uncompiled graph; routing edges come from the nodes' `Command` return types.

    `context_schema` may be a subclass of Context whose defaults fill in what a caller cannot send as
    JSON (LangGraph Studio: app/studio.py).
    """
    builder = StateGraph(State, context_schema=context_schema, input_schema=InputState)
    builder.add_node("intake", intake)
    builder.add_node("enrich", enrich)
    builder.add_node("triage", triage)
    builder.add_node("route", route)
    for name in SPECIALISTS:
        builder.add_node(name, make_specialist(name))
    builder.add_node("escalate", escalate)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "enrich")
    builder.add_edge("enrich", "triage")
    builder.add_edge("triage", "route")
    builder.add_edge("finalize", END)
    return builder


def compile_graph(
    checkpointer: BaseCheckpointSaver[str] | None, context_schema: type[Context] = Context
) -> RouterGraph:
    """The runnable router, checkpointed per conversation (`thread_id`)."""
    return build_graph(context_schema).compile(checkpointer=checkpointer, name="support-router")
