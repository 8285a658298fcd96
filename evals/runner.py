"""The evaluation runner: every labelled ticket through the real graph, then metrics and predictions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from agents.toolkit import Toolkit
from agents.triage.dataset import LabelledTicket
from app.settings import Settings
from evals.metrics import (
    binary_metrics,
    classification_metrics,
    latency_percentiles,
    unsafe_automation_rate,
)
from graph.builder import compile_graph
from graph.state import InputState, State


@dataclass(frozen=True)
class Prediction:
    """What the router did with one labelled ticket."""

    id: str
    text: str
    category: str
    predicted: str
    confidence: float
    secondary_intents: list[str]
    risk_signals: list[str]
    expect_escalation: bool
    escalated: bool
    escalation_reason: str | None
    specialist: str | None
    citations: list[str]
    latency_ms: float


async def evaluate(
    tickets: Sequence[LabelledTicket],
    toolkit: Toolkit,
    settings: Settings,
    on_done: Callable[[], None] = lambda: None,
) -> list[Prediction]:
    """Each ticket as the first turn of its own conversation; an interrupt counts as escalated."""
    # Checkpoints in memory: escalations need one to pause, and an eval must not touch the data dir.
    graph = compile_graph(InMemorySaver())
    predictions = []
    for number, ticket in enumerate(tickets, start=1):
        config: RunnableConfig = {"configurable": {"thread_id": f"eval-{number}"}}
        customer_id = getattr(ticket, "customer_id", None)
        started = time.perf_counter()
        await graph.ainvoke(
            InputState(text=ticket.text), config, context=settings.context(toolkit, customer_id)
        )
        elapsed = (time.perf_counter() - started) * 1000
        snapshot = await graph.aget_state(config)
        predictions.append(_prediction(ticket, number, State(**snapshot.values), elapsed))
        on_done()
    return predictions


def _prediction(ticket: LabelledTicket, number: int, state: State, latency_ms: float) -> Prediction:
    classification = state.classification
    assert classification is not None  # every turn is triaged before it can stop
    return Prediction(
        id=ticket.id or str(number),
        text=ticket.text,
        category=ticket.category,
        predicted=classification["category"],
        confidence=classification["confidence"],
        secondary_intents=list(classification["secondary_intents"]),
        risk_signals=list(classification["risk_signals"]),
        expect_escalation=ticket.expect_escalation,
        escalated=state.escalation_reason is not None,
        escalation_reason=state.escalation_reason,
        specialist=state.owner,
        citations=[c["article_id"] for c in (state.draft or {"citations": []})["citations"]],
        latency_ms=round(latency_ms, 2),
    )


def summarize(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The metrics of a run."""
    must = [p.expect_escalation for p in predictions]
    escalated = [p.escalated for p in predictions]
    return {
        "n": len(predictions),
        **classification_metrics([p.category for p in predictions], [p.predicted for p in predictions]),
        "escalation": binary_metrics(must, escalated),
        "unsafe_automation_rate": unsafe_automation_rate(must, escalated),
        "latency_ms": latency_percentiles([p.latency_ms for p in predictions]),
    }


def write_report(predictions: Sequence[Prediction], report_dir: Path) -> dict[str, Any]:
    """Write metrics.json and predictions.jsonl; return the metrics."""
    report_dir.mkdir(parents=True, exist_ok=True)
    metrics = summarize(predictions)
    (report_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    with (report_dir / "predictions.jsonl").open("w") as handle:
        for prediction in predictions:
            handle.write(json.dumps(asdict(prediction)) + "\n")
    return metrics
