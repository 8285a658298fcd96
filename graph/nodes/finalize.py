"""finalize: every path ends here; send the reply and record the turn's outcome."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from graph.context import Context
from graph.outcome import TurnStatus, build_outcome
from graph.state import State


def finalize(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Append the reply to the transcript and the outcome to the record; drop the turn's vectors."""
    if state.response is None:
        raise ValueError("a turn reached finalize without a response")
    # Streamed paragraph by paragraph, so a widget can show the answer as it arrives.
    for chunk in state.response.split("\n\n"):
        runtime.stream_writer({"type": "answer_chunk", "text": chunk})
    conversation_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    status: TurnStatus = "closed" if state.status == "closed" else "answered"
    outcome = build_outcome(state, conversation_id, status, state.response)
    return {
        "messages": [AIMessage(content=state.response)],
        "outcomes": [outcome.model_dump(mode="json")],
        "vector": None,
        "intent_vectors": {},
    }
