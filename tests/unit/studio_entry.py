"""Loads langgraph.json's graph the way the Agent Server does, runs turns through it, prints JSON.

Run as `python studio_entry.py CONFIG GRAPH_ID` in a process whose SUPPORT_ROUTER_* variables name the
models: the factory reads them, as it would under `langgraph dev`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel
from langgraph.types import Command

CLEAR_TICKET = "How do I reset my password?"
RISKY_TICKET = "I was charged twice for my subscription this month"


def load_entry(config: Path, graph_id: str) -> Any:
    """The object a `graphs` entry names: `./path/to/file.py:attribute`, relative to the config."""
    entry = json.loads(config.read_text())["graphs"][graph_id]
    path, _, attribute = entry.partition(":")
    spec = importlib.util.spec_from_file_location("studio_graph_entry", config.parent / path)
    assert spec is not None and spec.loader is not None, entry
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as the server registers it, so dataclasses can resolve their types
    spec.loader.exec_module(module)
    return getattr(module, attribute)


async def main(config: Path, graph_id: str) -> dict[str, Any]:
    factory = load_entry(config, graph_id)
    graph = await factory() if inspect.iscoroutinefunction(factory) else factory()
    assert isinstance(graph, Pregel), type(graph)
    # The Agent Server attaches its own checkpointer to the graph it got, as here.
    graph = graph.copy(update={"checkpointer": InMemorySaver()})
    report: dict[str, Any] = {
        "factory": f"{Path(inspect.getfile(factory)).resolve()}:{factory.__name__}",
        "nodes": sorted(graph.get_graph().nodes),
        "context_schema": graph.get_context_jsonschema(),
    }
    # A run whose context the server filtered down to the schema's keys, and one with none of them.
    vip = await graph.ainvoke(
        {"text": CLEAR_TICKET}, {"configurable": {"thread_id": "vip"}}, context={"customer_id": "cus_vip"}
    )
    anonymous = await graph.ainvoke(
        {"text": CLEAR_TICKET}, {"configurable": {"thread_id": "anon"}}, context={}
    )
    report["vip"] = {"response": vip["response"], "segment": vip["policy"]["segment"], "path": vip["path"]}
    report["anonymous"] = {"response": anonymous["response"], "segment": anonymous["policy"]["segment"]}
    # A handoff pauses the thread; Studio resumes it with the reviewer's decision keyed by the pause id.
    thread = {"configurable": {"thread_id": "risky"}}
    paused = await graph.ainvoke({"text": RISKY_TICKET}, thread, context={"customer_id": "cus_free"})
    (pause,) = paused["__interrupt__"]
    decision = {
        "action": "reply",
        "text": "We refunded the second charge.",
        "target": None,
        "reviewer": "studio",
    }
    resumed = await graph.ainvoke(Command(resume={pause.id: decision}), thread, context={})
    report["resumed"] = {"reason": paused["escalation_reason"], "response": resumed["response"]}
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))))
