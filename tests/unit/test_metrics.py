"""Evaluation metrics checked against small hand-computed examples."""

from __future__ import annotations

import pytest

from agents.triage.dataset import CATEGORIES
from evals.metrics import binary_metrics, classification_metrics, latency_percentiles, unsafe_automation_rate


def test_classification_metrics_by_hand() -> None:
    gold = ["billing", "billing", "account_access", "technical", "refund", "other"]
    predicted = ["billing", "account_access", "account_access", "technical", "refund", "billing"]
    metrics = classification_metrics(gold, predicted)
    assert metrics["accuracy"] == 0.6667  # 4 of 6
    per_category = metrics["per_category"]
    assert isinstance(per_category, dict)
    assert list(per_category) == list(CATEGORIES)
    # billing: 1 right of 2 predicted, 1 found of 2 gold.
    assert per_category["billing"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    # account_access: 1 right of 2 predicted, its only gold ticket found.
    assert per_category["account_access"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert per_category["technical"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert per_category["refund"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    # other: never predicted (precision 0 by convention), its ticket missed.
    assert per_category["other"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    # (0.5 + 2/3 + 1 + 1 + 0) / 5
    assert metrics["macro_f1"] == 0.6333


def test_perfect_classification() -> None:
    metrics = classification_metrics(list(CATEGORIES), list(CATEGORIES))
    assert metrics["accuracy"] == 1.0
    assert metrics["macro_f1"] == 1.0


def test_binary_metrics_by_hand() -> None:
    gold = [True, True, False, False, True, False]
    predicted = [True, False, True, False, True, False]
    # 2 true positives, 1 false positive, 1 false negative.
    assert binary_metrics(gold, predicted) == {
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "positives": 3,
        "predicted_positives": 3,
    }


def test_binary_metrics_when_everything_is_flagged() -> None:
    gold = [True, False, False, False]
    predicted = [True, True, True, True]
    assert binary_metrics(gold, predicted) == {
        "precision": 0.25,
        "recall": 1.0,
        "f1": 0.4,
        "positives": 1,
        "predicted_positives": 4,
    }


def test_binary_metrics_without_positives_are_zero() -> None:
    assert binary_metrics([False, False], [False, False]) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "positives": 0,
        "predicted_positives": 0,
    }


def test_unsafe_automation_rate_by_hand() -> None:
    must_escalate = [True, True, True, False, False]
    escalated = [True, False, False, True, False]
    assert unsafe_automation_rate(must_escalate, escalated) == 0.6667  # 2 of 3 answered without a human


def test_unsafe_automation_rate_edges() -> None:
    assert unsafe_automation_rate([False, False], [False, True]) == 0.0
    assert unsafe_automation_rate([], []) == 0.0
    assert unsafe_automation_rate([True, True], [True, True]) == 0.0
    assert unsafe_automation_rate([True, True], [False, False]) == 1.0


def test_unsafe_automation_rate_needs_aligned_inputs() -> None:
    with pytest.raises(ValueError):
        unsafe_automation_rate([True, True], [True])


def test_latency_percentiles_interpolate_linearly() -> None:
    # Ranks 0..4: p50 at rank 2, p95 at rank 3.8, p99 at rank 3.96.
    assert latency_percentiles([50.0, 10.0, 30.0, 20.0, 40.0]) == {"p50": 30.0, "p95": 48.0, "p99": 49.6}


def test_latency_percentiles_edges() -> None:
    assert latency_percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    assert latency_percentiles([7.5]) == {"p50": 7.5, "p95": 7.5, "p99": 7.5}
    assert latency_percentiles([1.0, 2.0]) == {"p50": 1.5, "p95": 1.95, "p99": 1.99}
