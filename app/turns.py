"""Running one turn (or a resume) through the graph while streaming its progress as live events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Interrupt, StateSnapshot

from agents.llm.runtime import Redactor
from app.events import EventHub, LiveEvent
from app.metrics import RouterMetrics
from app.store.leases import Fence
from app.tracing import traced
from graph.builder import RouterGraph
from graph.checkpointer import FENCE_TOKEN
from graph.context import Context
from graph.state import InputState, State


@dataclass(frozen=True)
class RunResult:
    """The conversation state where a run stopped, and the pause it stopped at, if any."""

    state: State
    interrupts: list[Interrupt]
    node_ms: dict[str, float] = field(default_factory=dict)
    """Wall time of each node that ran, in milliseconds (a node that ran twice adds up)."""

    @classmethod
    def from_snapshot(cls, snapshot: StateSnapshot) -> RunResult:
        """The same, read back from the checkpointer."""
        return cls(State(**snapshot.values), list(snapshot.interrupts))


# The key under which LangGraph's "values" stream reports a pause.
INTERRUPT = "__interrupt__"


def thread_config(conversation_id: str, fence: Fence | None = None) -> RunnableConfig:
    """The checkpointer config of a conversation: one thread per conversation, and the lease's fencing
    token for a checkpointer that checks it (graph/checkpointer.py)."""
    configurable: dict[str, Any] = {"thread_id": conversation_id}
    if fence is not None:
        configurable[FENCE_TOKEN] = fence.token
    return {"configurable": configurable}


@dataclass
class TurnRunner:
    """Streams the graph: node started/finished and answer chunks go live; node times go to metrics."""

    graph: RouterGraph
    hub: EventHub
    metrics: RouterMetrics
    redactor: Redactor | None = None
    """Redacts traces; without one (no redactor loaded) turns are never traced."""

    async def run(
        self,
        conversation_id: str,
        graph_input: InputState | Command[Any] | None,
        context: Context,
        trace_metadata: dict[str, str] | None = None,
        fence: Fence | None = None,
    ) -> RunResult:
        """Run to the end of the turn or to the next interrupt; return where it stopped. No input
        resumes a run that failed part-way from its saved checkpoint."""
        node_ms: dict[str, float] = {}
        with traced(trace_metadata or {"conversation_id": conversation_id}, self.redactor):
            final = await self._stream(conversation_id, graph_input, context, fence, node_ms)
        interrupts = list(final.pop(INTERRUPT, ()))
        return RunResult(State(**final), interrupts, node_ms)

    async def _stream(
        self,
        conversation_id: str,
        graph_input: InputState | Command[Any] | None,
        context: Context,
        fence: Fence | None,
        node_ms: dict[str, float],
    ) -> dict[str, Any]:
        started: dict[str, float] = {}
        final: dict[str, Any] = {}
        stream = self.graph.astream(
            graph_input,
            thread_config(conversation_id, fence),
            context=context,
            stream_mode=["tasks", "custom", "values"],
            # One checkpoint when the turn ends or pauses: the accepted message is in the store, so
            # a turn cut short by a crash is simply run again (see RouterService.recover).
            durability="exit",
        )
        async for mode, payload in stream:
            chunk = cast(dict[str, Any], payload)
            if mode == "values":
                final = chunk
            elif mode == "custom":
                self.hub.publish(conversation_id, LiveEvent(type=chunk["type"], data={"text": chunk["text"]}))
            elif "input" in chunk:  # a task started
                started[chunk["id"]] = time.perf_counter()
                self.hub.publish(conversation_id, LiveEvent("node_started", {"node": chunk["name"]}))
            else:  # a task finished
                elapsed = time.perf_counter() - started.pop(chunk["id"], time.perf_counter())
                self.metrics.node_seconds.labels(chunk["name"]).observe(elapsed)
                node_ms[chunk["name"]] = round(node_ms.get(chunk["name"], 0.0) + elapsed * 1000, 3)
                self.hub.publish(
                    conversation_id,
                    LiveEvent("node_finished", {"node": chunk["name"], "ms": round(elapsed * 1000, 2)}),
                )
        return final
