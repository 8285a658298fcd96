"""The metrics of an evaluation run (`metrics.json`), computed from its predictions alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from agents.triage.dataset import CATEGORIES
from evals.metrics import (
    binary_metrics,
    classification_metrics,
    latency_percentiles,
    unsafe_automation_rate,
)
from evals.prediction import Prediction

MIN_GROUP_SIZE = 5
"""Tags with fewer tickets than this get no breakdown of their own: their numbers would be noise."""


def summarize(predictions: Sequence[Prediction], run: dict[str, Any]) -> dict[str, Any]:
    """Every number of the run; `run` describes it (datasets, mode, policy, models, timing)."""
    return {
        "run": run,
        "n": len(predictions),
        "errors": sum(p.error is not None for p in predictions),
        **classification_metrics([p.category for p in predictions], [p.predicted for p in predictions]),
        "confusion": confusion(predictions),
        "escalation": binary_metrics(
            [p.expect_escalation for p in predictions], [p.escalated for p in predictions]
        ),
        "unsafe_automation_rate": unsafe_automation_rate(
            [p.expect_escalation for p in predictions], [p.escalated for p in predictions]
        ),
        "escalation_reasons": dict(
            Counter(kind for p in predictions if p.escalated for kind in reason_kinds(p)).most_common()
        ),
        "specialist_accuracy": share(predictions, expects_specialist, specialist_right),
        "citation_hit_rate": share(predictions, answered_with_expected_citation, cited_expected),
        "groundedness": share(predictions, lambda p: p.grounded is not None, lambda p: bool(p.grounded)),
        "decided_by": dict(Counter(p.decided_by for p in predictions)),
        "llm": llm_usage(predictions),
        "latency_ms": latency_percentiles([p.latency_ms for p in predictions]),
        "node_latency_ms": node_latency(predictions),
        "per_tag": breakdown(predictions, lambda p: p.tags),
        "per_dataset": breakdown(predictions, lambda p: [p.dataset]),
    }


def confusion(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Counts of gold (rows) against predicted (columns); failed turns are counted under `errors`."""
    labels = list(CATEGORIES)
    matrix = confusion_matrix(
        [p.category for p in predictions], [p.predicted for p in predictions], labels=labels
    )
    return {"labels": labels, "matrix": matrix.tolist()}


def reason_kinds(prediction: Prediction) -> list[str]:
    """The reasons without their details: `risk:a,b` counts as `risk:a` and `risk:b`, and
    `answer_check:unsupported_answer` or `llm_unavailable:timeout` as `answer_check` or `llm_unavailable`."""
    reason = prediction.escalation_reason or "unknown"
    kind, _, detail = reason.partition(":")
    if kind == "risk" and detail:
        return [f"risk:{signal}" for signal in detail.split(",")]
    return [kind] if kind in ("answer_check", "llm_unavailable") else [reason]


def share(
    predictions: Sequence[Prediction],
    applies: Callable[[Prediction], bool],
    holds: Callable[[Prediction], bool],
) -> float | None:
    """The share of the predictions `applies` selects for which `holds` is true; None when none apply."""
    selected = [p for p in predictions if applies(p)]
    return round(sum(holds(p) for p in selected) / len(selected), 4) if selected else None


def expects_specialist(prediction: Prediction) -> bool:
    return prediction.expect_specialist is not None


def specialist_right(prediction: Prediction) -> bool:
    return prediction.specialist == prediction.expect_specialist


def answered_with_expected_citation(prediction: Prediction) -> bool:
    """Tickets that expect a citation and got an automated answer."""
    return prediction.expect_citation is not None and not prediction.escalated


def cited_expected(prediction: Prediction) -> bool:
    return prediction.expect_citation in prediction.citations


def llm_usage(predictions: Sequence[Prediction]) -> dict[str, Any] | None:
    """Model calls, tokens and cost per ticket; None when no ticket called a model."""
    if not predictions or not any(p.llm_calls or p.llm_fallbacks for p in predictions):
        return None
    n = len(predictions)
    cost = sum(p.llm_cost_usd for p in predictions)
    return {
        "calls_per_ticket": round(sum(p.llm_calls for p in predictions) / n, 4),
        "tokens_per_ticket": round(sum(p.llm_tokens for p in predictions) / n, 1),
        "cost_usd": round(cost, 6),
        "cost_usd_per_ticket": round(cost / n, 8),
        "decided_by_llm": round(sum(p.decided_by == "llm" for p in predictions) / n, 4),
        "fallbacks": dict(Counter(f for p in predictions for f in p.llm_fallbacks).most_common()),
    }


def node_latency(predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    """Percentiles of each graph node's wall time, over the turns that ran it."""
    times: dict[str, list[float]] = defaultdict(list)
    for prediction in predictions:
        for node, ms in prediction.node_ms.items():
            times[node].append(ms)
    return {node: latency_percentiles(values) for node, values in times.items()}


def breakdown(
    predictions: Sequence[Prediction], groups_of: Callable[[Prediction], Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """The headline numbers per group (tag or dataset), for groups of at least MIN_GROUP_SIZE tickets."""
    groups: dict[str, list[Prediction]] = defaultdict(list)
    for prediction in predictions:
        for group in groups_of(prediction):
            groups[group].append(prediction)
    return {
        name: headline(members) for name, members in sorted(groups.items()) if len(members) >= MIN_GROUP_SIZE
    }


def headline(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """n, accuracy, macro-F1, escalation recall and unsafe automation of one group."""
    scores = classification_metrics([p.category for p in predictions], [p.predicted for p in predictions])
    must = [p.expect_escalation for p in predictions]
    escalated = [p.escalated for p in predictions]
    return {
        "n": len(predictions),
        "accuracy": scores["accuracy"],
        "macro_f1": scores["macro_f1"],
        "escalation_recall": binary_metrics(must, escalated)["recall"] if any(must) else None,
        "unsafe_automation_rate": unsafe_automation_rate(must, escalated) if any(must) else None,
        "latency_p50_ms": float(np.percentile([p.latency_ms for p in predictions], 50)),
    }
