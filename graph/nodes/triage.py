"""triage: classify the message with the local classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State


def triage(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Category probabilities, secondary intents and risk signals for this turn's message."""
    if state.vector is None:
        raise ValueError("triage needs the vector that enrich computes")
    vector = np.asarray(state.vector, dtype=np.float32)
    result = runtime.context.toolkit.classifier.classify(state.text, vector)
    return {
        "classification": result.classification,
        "intent_vectors": {c: v.tolist() for c, v in result.intent_vectors.items()},
    }
