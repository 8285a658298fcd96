"""triage: the local classifier, and in LLM mode the triage model for the tickets it is unsure about."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agents.llm.guard import LLMUnavailable
from agents.llm.runtime import LLMRuntime
from agents.llm.usage import UsageMeter
from agents.triage.adjudicator import adjudicate, adjudication_triggers
from agents.triage.classifier import Classification
from graph.context import Context
from graph.state import State


async def triage(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Category probabilities, secondary intents and risk signals for this turn's message."""
    if state.vector is None:
        raise ValueError("triage needs the vector that enrich computes")
    vector = np.asarray(state.vector, dtype=np.float32)
    classifier = runtime.context.toolkit.classifier
    # CPU-bound: off the event loop, as LangGraph runs synchronous nodes.
    result = await asyncio.to_thread(classifier.classify, state.text, vector)
    update: dict[str, Any] = {
        "classification": result.classification,
        "intent_vectors": {c: v.tolist() for c, v in result.intent_vectors.items()},
    }
    llm = runtime.context.llm
    if llm is not None:
        triggers = adjudication_triggers(result.classification, llm.config.triage_confidence_threshold)
        if triggers:
            update |= await _adjudicated(llm, state, result.classification, triggers)
    return update


async def _adjudicated(
    llm: LLMRuntime, state: State, local: Classification, triggers: list[str]
) -> dict[str, Any]:
    """The model's classification when it gives one; the local one, with the reason recorded, otherwise."""
    meter = UsageMeter(conversation_tokens=state.llm_tokens)
    try:
        adjudicated = await adjudicate(llm, meter, state.text, state.earlier_messages(), local, triggers)
    except LLMUnavailable as error:
        meter.fallbacks.append(error.reason)
        adjudicated = None
    update: dict[str, Any] = {
        "llm_usage": meter.add_to(state.llm_usage),
        "llm_tokens": state.llm_tokens + meter.tokens,
    }
    if adjudicated is not None:
        update["classification"] = adjudicated
    return update
