"""K-fold cross-validation of the triage head on a labelled file, with triage-level escalation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.triage.dataset import CATEGORIES, LabelledTicket
from agents.triage.risk import detect_risk_signals
from agents.triage.training import cross_validated_probabilities
from evals.metrics import binary_metrics, classification_metrics, unsafe_automation_rate
from knowledge.embedding import MiniLMEmbedder

# The default policy's low-confidence threshold (rule `unclear-new-issue`).
DEFAULT_CONFIDENCE_THRESHOLD = 0.5


def triage_escalates(category: str, confidence: float, text: str, threshold: float) -> bool:
    """What triage alone sends to a human: refunds, risk signals, and low confidence."""
    return category == "refund" or bool(detect_risk_signals(text)) or confidence < threshold


def cross_validate(
    tickets: Sequence[LabelledTicket], embedder: MiniLMEmbedder, folds: int, threshold: float
) -> dict[str, object]:
    """Out-of-fold classification metrics and the escalation triage would decide.

    Escalation here leaves out what only the full graph adds (no relevant article, loop guard);
    `support-router eval` measures that end to end.
    """
    probabilities = cross_validated_probabilities(tickets, embedder, folds)
    predicted = [CATEGORIES[int(i)] for i in np.argmax(probabilities, axis=1)]
    confidence = probabilities.max(axis=1)
    escalated = [
        triage_escalates(p, float(c), t.text, threshold)
        for p, c, t in zip(predicted, confidence, tickets, strict=True)
    ]
    gold_escalation = [t.expect_escalation for t in tickets]
    return {
        "n": len(tickets),
        "folds": folds,
        "confidence_threshold": threshold,
        **classification_metrics([t.category for t in tickets], predicted),
        "escalation": binary_metrics(gold_escalation, escalated),
        "unsafe_automation_rate": unsafe_automation_rate(gold_escalation, escalated),
    }
