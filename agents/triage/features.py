"""Ticket features for the linear triage head: the MiniLM vector plus hashed word and character n-grams."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

# The n-grams catch product words and typos the sentence vector blurs; their weight keeps the
# vector in charge (chosen by cross-validation on the shipped examples).
LEXICAL_WEIGHT = 0.5
HASH_FEATURES = 2**15

_CHARS = HashingVectorizer(
    analyzer="char_wb", ngram_range=(2, 5), n_features=HASH_FEATURES, alternate_sign=False
)
_WORDS = HashingVectorizer(
    analyzer="word", ngram_range=(1, 2), n_features=HASH_FEATURES, alternate_sign=False
)
FEATURE_COUNT = 384 + 2 * HASH_FEATURES


def featurize(vectors: np.ndarray, texts: Sequence[str]) -> sp.csr_matrix:
    """One row per ticket: [vector | weighted char n-grams | weighted word n-grams]."""
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    return sp.hstack(
        [
            sp.csr_matrix(vectors),
            LEXICAL_WEIGHT * _CHARS.transform(texts),
            LEXICAL_WEIGHT * _WORDS.transform(texts),
        ],
        format="csr",
    )
