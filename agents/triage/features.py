"""Ticket features for the linear triage head: the MiniLM vector plus hashed word and character n-grams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import HashingVectorizer

# The n-grams catch product words and typos the sentence vector blurs; their weight keeps the
# vector in charge (chosen by cross-validation on the shipped examples).
LEXICAL_WEIGHT = 0.5
HASH_FEATURES = 2**15
VECTOR_FEATURES = 384

_CHARS = HashingVectorizer(
    analyzer="char_wb", ngram_range=(2, 5), n_features=HASH_FEATURES, alternate_sign=False
)
_WORDS = HashingVectorizer(
    analyzer="word", ngram_range=(1, 2), n_features=HASH_FEATURES, alternate_sign=False
)
FEATURE_COUNT = VECTOR_FEATURES + 2 * HASH_FEATURES


class FeatureBlocks(NamedTuple):
    """The three column blocks of `featurize`, one row per ticket, kept apart."""

    vectors: np.ndarray
    chars: sp.csr_matrix
    """Weighted character n-grams."""
    words: sp.csr_matrix
    """Weighted word n-grams."""


def feature_blocks(vectors: np.ndarray, texts: Sequence[str]) -> FeatureBlocks:
    """The vector and the weighted n-gram counts of each ticket.

    Our inputs are lists of strings: scikit-learn's per-call parameter and finiteness checks would
    cost three times the hashing itself, so they are skipped.
    """
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        chars = LEXICAL_WEIGHT * _CHARS.transform(texts)
        words = LEXICAL_WEIGHT * _WORDS.transform(texts)
    return FeatureBlocks(vectors, chars, words)


def featurize(vectors: np.ndarray, texts: Sequence[str]) -> sp.csr_matrix:
    """One row per ticket: [vector | weighted char n-grams | weighted word n-grams]."""
    blocks = feature_blocks(vectors, texts)
    return sp.hstack([sp.csr_matrix(blocks.vectors), blocks.chars, blocks.words], format="csr")
