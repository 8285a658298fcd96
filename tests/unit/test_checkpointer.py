"""The service's checkpointer reads back only known-safe types (LangGraph's strict msgpack mode)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint

from graph.checkpointer import open_checkpointer


@dataclass
class Smuggled:
    """A type of ours that no checkpoint of the router ever holds."""

    command: str


async def test_checkpoints_revive_messages_but_not_other_objects(tmp_path: Path) -> None:
    async with open_checkpointer(tmp_path) as saver:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": [HumanMessage(content="hi")], "x": Smuggled("rm -rf /")}
        checkpoint["channel_versions"] = {"messages": 1, "x": 1}
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        await saver.aput(config, checkpoint, {}, {"messages": 1, "x": 1})
        stored = await saver.aget_tuple({"configurable": {"thread_id": "t"}})
    assert stored is not None
    values = stored.checkpoint["channel_values"]
    assert values["messages"] == [HumanMessage(content="hi")]
    assert not isinstance(values["x"], Smuggled)  # blocked: not rebuilt from what the store holds
