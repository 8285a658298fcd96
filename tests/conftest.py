"""Shared fixtures: the real offline models, loaded once per session, and a fresh graph per test."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.toolkit import Toolkit
from agents.triage.classifier import TriageClassifier
from agents.triage.dataset import read_tickets
from agents.triage.head import TriageHead
from agents.triage.training import train_head
from app.settings import DEFAULT_TRIAGE_MODEL, Settings
from app.store.store import AppStore, open_store
from graph.builder import RouterGraph, compile_graph
from graph.context import Context
from knowledge.articles import DEFAULT_ARTICLES_DIR, load_articles
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import KnowledgeBase, open_client

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DEV_SET = PROJECT_ROOT.parent / "shared" / "evals" / "dev.jsonl"
TRAINING_EXAMPLES = PROJECT_ROOT / "agents" / "triage" / "examples.jsonl"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def head(embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> TriageHead:
    """The shipped head that `make` builds; trained here when pytest runs without make."""
    if (DEFAULT_TRIAGE_MODEL / "manifest.json").is_file():
        return TriageHead.load(DEFAULT_TRIAGE_MODEL)
    trained = train_head(read_tickets(TRAINING_EXAMPLES), embedder)
    trained.save(tmp_path_factory.mktemp("head"))
    return trained


@pytest.fixture(scope="session")
def head_dir(head: TriageHead, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("head-copy")
    head.save(directory)
    return directory


@pytest.fixture(scope="session")
def index_dir(embedder: MiniLMEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Chroma index of the shipped articles, built once per session."""
    directory = tmp_path_factory.mktemp("chroma")
    KnowledgeBase(open_client(directory), embedder).ingest(load_articles(DEFAULT_ARTICLES_DIR))
    return directory


@pytest.fixture(scope="session")
def toolkit(embedder: MiniLMEmbedder, head: TriageHead, index_dir: Path) -> Toolkit:
    knowledge = KnowledgeBase(open_client(index_dir), embedder)
    return Toolkit(embedder=embedder, classifier=TriageClassifier(head, embedder), knowledge=knowledge)


@pytest.fixture
def graph() -> RouterGraph:
    """A compiled graph with its own fresh in-memory checkpointer."""
    return compile_graph(InMemorySaver())


@pytest.fixture
def make_context(toolkit: Toolkit) -> Callable[..., Context]:
    """Context from default settings, with per-test overrides."""

    def make(**overrides: Any) -> Context:
        context = Settings().context(toolkit, overrides.pop("customer_id", None))
        return dataclasses.replace(context, **overrides)

    return make


TEST_RATE_LIMIT = "100000/second"
"""Tests post faster than any person; the rate-limit tests set their own limit."""


@pytest.fixture(scope="session")
def make_settings(head_dir: Path, index_dir: Path) -> Callable[[Path], Settings]:
    """Settings on a private data dir with the session's models (the postgres suite adds a database)."""

    def make(data_dir: Path) -> Settings:
        return Settings(
            data_dir=data_dir, triage_model=head_dir, index_dir_override=index_dir, rate_limit=TEST_RATE_LIMIT
        )

    return make


@pytest.fixture
def settings(tmp_path: Path, make_settings: Callable[[Path], Settings]) -> Settings:
    """Settings whose data dir is private to the test and whose models are the session's."""
    return make_settings(tmp_path / "data")


@pytest.fixture
async def demo_store(tmp_path: Path) -> AsyncIterator[AppStore]:
    """An app store on the test's own SQLite file, seeded with 20 demo customers and their business data."""
    async with open_store(f"sqlite+aiosqlite:///{tmp_path}/app.db") as store:
        await store.customers.seed_demo_if_empty(count=20)
        await store.business.seed_demo_if_empty(count=20)
        yield store
