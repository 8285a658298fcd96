"""Training the triage head from labelled tickets, and cross-validating it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from agents.triage.dataset import CATEGORIES, LabelledTicket
from agents.triage.features import HASH_FEATURES, LEXICAL_WEIGHT, featurize
from agents.triage.head import TriageHead, weights_version
from knowledge.embedding import MiniLMEmbedder

# Inverse regularisation strength; chosen by cross-validation on the shipped examples.
DEFAULT_C = 16.0
SEED = 0


class TrainingError(ValueError):
    """Tickets that cannot train a head."""


def _fit(vectors: np.ndarray, texts: Sequence[str], labels: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=5000, random_state=SEED)
    model.fit(featurize(vectors, texts), labels)
    return model


def _labels(tickets: Sequence[LabelledTicket]) -> np.ndarray:
    labels = np.array([CATEGORIES.index(t.category) for t in tickets])
    missing = [c for i, c in enumerate(CATEGORIES) if not (labels == i).any()]
    if missing:
        raise TrainingError(f"no examples of {', '.join(missing)}; every category needs some")
    return labels


def train_head(
    tickets: Sequence[LabelledTicket], embedder: MiniLMEmbedder, c: float = DEFAULT_C
) -> TriageHead:
    """Fit a head on all tickets; the manifest records what it was trained on and how."""
    texts = [t.text for t in tickets]
    labels = _labels(tickets)
    model = _fit(embedder.embed(texts), texts, labels, c)
    weights = model.coef_.astype(np.float32)
    bias = model.intercept_.astype(np.float32)
    data_digest = hashlib.sha256("\n".join(f"{t.category}\t{t.text}" for t in tickets).encode())
    manifest: dict[str, object] = {
        "version": weights_version(weights, bias),
        "categories": list(CATEGORIES),
        "embedding_model": embedder.model_id,
        "examples": len(tickets),
        "examples_per_category": {c: int((labels == i).sum()) for i, c in enumerate(CATEGORIES)},
        "data_sha256": data_digest.hexdigest(),
        "regularisation_c": c,
        "lexical_weight": LEXICAL_WEIGHT,
        "hash_features": HASH_FEATURES,
    }
    return TriageHead(weights=weights, bias=bias, categories=CATEGORIES, manifest=manifest)


def cross_validated_probabilities(
    tickets: Sequence[LabelledTicket],
    embedder: MiniLMEmbedder,
    folds: int = 5,
    c: float = DEFAULT_C,
) -> np.ndarray:
    """Out-of-fold probabilities: each ticket scored by a head that never saw it."""
    texts = [t.text for t in tickets]
    labels = _labels(tickets)
    vectors = embedder.embed(texts)
    probabilities = np.zeros((len(tickets), len(CATEGORIES)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train, test in splitter.split(vectors, labels):
        model = _fit(vectors[train], [texts[i] for i in train], labels[train], c)
        scored = model.predict_proba(featurize(vectors[test], [texts[i] for i in test]))
        probabilities[np.ix_(test, model.classes_)] = scored
    return probabilities
