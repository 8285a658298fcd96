"""The local triage classifier: category probabilities, secondary intents and risk signals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NotRequired

import numpy as np
from typing_extensions import TypedDict

from agents.triage.dataset import CATEGORIES, Category
from agents.triage.head import TriageHead
from agents.triage.risk import RiskSignal, detect_risk_signals
from knowledge.embedding import MiniLMEmbedder

# Where one ticket carries two issues they are usually joined by a sentence break or a connective.
_CLAUSE_BREAK = re.compile(
    r"(?<=[.!?;])\s+|\s*,?\s+\b(?:and also|and|also|plus|but also|but|as well as|another thing|"
    r"btw|additionally|on top of that)\b\s+",
    re.IGNORECASE,
)
_MIN_CLAUSE_WORDS = 3
# Risk signals that reveal an intent even when the words lean elsewhere.
SIGNAL_INTENTS: dict[RiskSignal, Category] = {
    "refund_request": "refund",
    "chargeback": "billing",
    "duplicate_charge": "billing",
    "unrecognised_charge": "billing",
}


class Adjudication(TypedDict):
    """Why the local classifier's result went to the triage model, and the model's verdict."""

    triggers: list[str]
    """`low_confidence`, `overlapping_intents`, `ambiguous_risk_signal`."""
    local_category: Category
    local_confidence: float
    reason: str
    """The model's one-line reason."""
    model: str


class Classification(TypedDict):
    """What triage concluded about one message."""

    category: Category
    confidence: float
    probabilities: dict[str, float]
    secondary_intents: list[Category]
    risk_signals: list[RiskSignal]
    model_version: str
    decided_by: Literal["local_classifier", "llm"]
    adjudication: NotRequired[Adjudication]
    """Present when the triage model was asked: why, and what it said."""


@dataclass(frozen=True)
class TriageResult:
    """The classification, plus for a multi-issue ticket the vector of the clause carrying each issue."""

    classification: Classification
    intent_vectors: dict[Category, np.ndarray] = field(default_factory=dict)


def split_clauses(text: str) -> list[str]:
    """Sentence-like parts of a ticket long enough to carry an issue of their own."""
    parts = [part.strip(" ,") for part in _CLAUSE_BREAK.split(text) if part and part.strip(" ,")]
    return [part for part in parts if len(part.split()) >= _MIN_CLAUSE_WORDS]


class TriageClassifier:
    """The MiniLM vector through the linear head, plus clause-level and pattern evidence."""

    def __init__(
        self,
        head: TriageHead,
        embedder: MiniLMEmbedder,
        secondary_min_probability: float = 0.25,
        clause_min_confidence: float = 0.6,
    ) -> None:
        self._head = head
        self._embedder = embedder
        self._secondary_min_probability = secondary_min_probability
        self._clause_min_confidence = clause_min_confidence

    @property
    def version(self) -> str:
        """The version of the trained head."""
        return self._head.version

    def classify(self, text: str, vector: np.ndarray) -> TriageResult:
        """Classify a message whose vector the caller already computed (it is reused for retrieval)."""
        probabilities = self._head.probabilities(vector, [text])[0]
        best = int(np.argmax(probabilities))
        category = CATEGORIES[best]
        signals = detect_risk_signals(text)
        found: set[Category] = {
            c for c, p in zip(CATEGORIES, probabilities, strict=True) if p >= self._secondary_min_probability
        }
        found.update(SIGNAL_INTENTS[s] for s in signals if s in SIGNAL_INTENTS)
        intent_vectors = self._clause_intents(text)
        found.update(intent_vectors)
        classification = Classification(
            category=category,
            confidence=round(float(probabilities[best]), 4),
            probabilities={c: round(float(p), 4) for c, p in zip(CATEGORIES, probabilities, strict=True)},
            # "other" is small talk and framing, never a second issue to answer.
            secondary_intents=[c for c in CATEGORIES if c in found and c not in (category, "other")],
            risk_signals=signals,
            model_version=self._head.version,
            decided_by="local_classifier",
        )
        return TriageResult(classification, intent_vectors if len(intent_vectors) > 1 else {})

    def _clause_intents(self, text: str) -> dict[Category, np.ndarray]:
        """For each issue a confident clause carries, that clause's vector (the first such clause)."""
        clauses = split_clauses(text)
        if len(clauses) < 2:
            return {}
        vectors = self._embedder.embed(clauses)
        found: dict[Category, np.ndarray] = {}
        for row, clause_vector in zip(self._head.probabilities(vectors, clauses), vectors, strict=True):
            category = CATEGORIES[int(np.argmax(row))]
            if row.max() >= self._clause_min_confidence and category != "other":
                found.setdefault(category, clause_vector)
        return found
