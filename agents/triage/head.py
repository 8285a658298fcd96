"""The trained linear triage head: weights, their provenance, and probabilities per category."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from agents.triage.dataset import CATEGORIES
from agents.triage.features import FEATURE_COUNT, HASH_FEATURES, VECTOR_FEATURES, feature_blocks

WEIGHTS_FILE = "head.npz"
MANIFEST_FILE = "manifest.json"


class HeadMissingError(RuntimeError):
    """No trained head where one was expected."""


@dataclass(frozen=True)
class TriageHead:
    """Multinomial logistic regression over `featurize` rows (applied block by block)."""

    weights: np.ndarray  # (categories, FEATURE_COUNT), float32
    bias: np.ndarray  # (categories,)
    categories: tuple[str, ...]
    manifest: dict[str, object]

    @cached_property
    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weights split by feature block and transposed, so a ticket's logits need no stacked row."""
        lexical = VECTOR_FEATURES + HASH_FEATURES
        vectors, chars, words = np.split(self.weights, [VECTOR_FEATURES, lexical], axis=1)
        return np.ascontiguousarray(vectors.T), np.ascontiguousarray(chars.T), np.ascontiguousarray(words.T)

    @property
    def version(self) -> str:
        """Identifies the exact weights, so outcomes name the model that made them."""
        return str(self.manifest["version"])

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Softmax probabilities, one row per ticket, columns in `categories` order."""
        features = feature_blocks(vectors, texts)
        on_vectors, on_chars, on_words = self._blocks
        logits = features.vectors @ on_vectors + features.chars @ on_chars + features.words @ on_words
        logits = np.asarray(logits) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def save(self, directory: Path) -> None:
        """Write the weights and a readable manifest into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / WEIGHTS_FILE, weights=self.weights, bias=self.bias)
        (directory / MANIFEST_FILE).write_text(json.dumps(self.manifest, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> TriageHead:
        """Read a head written by `save`, refusing one that does not fit this code."""
        weights_path, manifest_path = directory / WEIGHTS_FILE, directory / MANIFEST_FILE
        if not weights_path.is_file() or not manifest_path.is_file():
            raise HeadMissingError(
                f"no trained triage head in {directory}; build one with "
                "`support-router triage train --data FILE.jsonl --out DIR` (or `make model`)"
            )
        manifest = json.loads(manifest_path.read_text())
        with np.load(weights_path) as stored:
            weights, bias = stored["weights"], stored["bias"]
        if tuple(manifest["categories"]) != CATEGORIES or weights.shape[1] != FEATURE_COUNT:
            raise HeadMissingError(f"the triage head in {directory} was trained for other features")
        return cls(weights=weights, bias=bias, categories=CATEGORIES, manifest=manifest)


def weights_version(weights: np.ndarray, bias: np.ndarray) -> str:
    """A short content hash of the parameters."""
    digest = hashlib.sha256(weights.tobytes() + bias.tobytes()).hexdigest()
    return f"triage-head-{digest[:12]}"
