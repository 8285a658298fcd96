"""Metrics of an evaluation run: classification quality, escalation quality, latency."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from agents.triage.dataset import CATEGORIES


def classification_metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, object]:
    """Accuracy, macro-F1 (over categories present in gold or predictions) and per-category scores."""
    present = [c for c in CATEGORIES if c in set(gold) | set(predicted)]
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=list(CATEGORIES), zero_division=0
    )
    return {
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(
            float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)), 4
        ),
        "per_category": {
            c: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, c in enumerate(CATEGORIES)
        },
    }


def binary_metrics(gold: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | int]:
    """Precision, recall and F1 of the positive class (here: reached a human)."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, predicted, labels=[True], zero_division=0
    )
    return {
        "precision": round(float(precision[0]), 4),
        "recall": round(float(recall[0]), 4),
        "f1": round(float(f1[0]), 4),
        "positives": int(sum(gold)),
        "predicted_positives": int(sum(predicted)),
    }


def unsafe_automation_rate(must_escalate: Sequence[bool], escalated: Sequence[bool]) -> float:
    """Share of must-escalate tickets that were answered without a human."""
    required = [e for m, e in zip(must_escalate, escalated, strict=True) if m]
    if not required:
        return 0.0
    return round(sum(not e for e in required) / len(required), 4)


def latency_percentiles(milliseconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 in milliseconds."""
    if not milliseconds:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    p50, p95, p99 = np.percentile(np.asarray(milliseconds), [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}
