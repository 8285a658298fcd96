"""The loaded models and indexes the agents share: loaded once per process, passed in the context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.triage.classifier import TriageClassifier
from agents.triage.head import TriageHead
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import MEMORY_MAX_ENTRIES, KnowledgeBase, open_client


@dataclass(frozen=True)
class Toolkit:
    """Embedder, triage classifier and knowledge base."""

    embedder: MiniLMEmbedder
    classifier: TriageClassifier
    knowledge: KnowledgeBase

    @classmethod
    def load(
        cls,
        head_dir: Path,
        index_dir: Path,
        embedder: MiniLMEmbedder | None = None,
        threads: int = 1,
        chroma_url: str | None = None,
        memory_max_entries: int = MEMORY_MAX_ENTRIES,
    ) -> Toolkit:
        """Load the head and open the index (a Chroma server's, with `chroma_url`); the embedder is
        shared when one is given."""
        embedder = embedder or MiniLMEmbedder(threads=threads)
        head = TriageHead.load(head_dir)
        client = open_client(index_dir, chroma_url)
        knowledge = KnowledgeBase(client, embedder, memory_max_entries=memory_max_entries)
        return cls(embedder=embedder, classifier=TriageClassifier(head, embedder), knowledge=knowledge)
