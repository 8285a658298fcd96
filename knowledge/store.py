"""The knowledge index: article passages in a persistent Chroma collection, searched by domain."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from knowledge.articles import Article, Domain, Passage
from knowledge.embedding import DIMENSION, ChromaEmbedding, MiniLMEmbedder, Vector

COLLECTION = "articles"
ProgressCallback = Callable[[int, int], None]
EMBED_CHUNK = 32
# Bump when the entries written per article change, so `kb ingest` rebuilds them.
INDEX_FORMAT = 3
VERSION_KEY = "index_version"
"""Collection metadata that every ingestion changes, so a worker can tell its in-memory copy is stale."""
MEMORY_MAX_ENTRIES = 50_000
"""Up to this many entries the index is searched exactly in memory: a query costs tens of microseconds
instead of milliseconds, and answers keep coming while a Chroma server is away. A larger index is
searched by Chroma itself (HNSW)."""
REFRESH_SECONDS = 30.0
"""How often a worker asks the collection whether an ingestion changed it."""

log = logging.getLogger(__name__)


class IndexMissingError(RuntimeError):
    """The index has not been built yet."""


class KnowledgeUnavailable(RuntimeError):
    """The Chroma server could not be reached; the same call works again once it is back."""


@contextmanager
def _server_reachable() -> Iterator[None]:
    """Turn a Chroma server's transport failure (refused, reset, timed out) into KnowledgeUnavailable."""
    try:
        yield
    except httpx.TransportError as error:
        raise KnowledgeUnavailable(f"the Chroma server is unreachable: {type(error).__name__}") from error


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its article and its cosine distance to the query (0 = same)."""

    passage_id: str
    article_id: str
    title: str
    url: str
    domain: str
    index: int
    text: str
    distance: float


@dataclass(frozen=True)
class IndexCopy:
    """Every entry of the collection in memory: unit vectors, texts and metadata, searched exactly."""

    vectors: np.ndarray
    """(entries, dimension) float32, unit length."""
    documents: list[str]
    metadatas: list[Mapping[str, Any]]
    rows_by_domain: dict[str, np.ndarray]
    version: str | None
    """The collection's `index_version` when it was read."""

    @classmethod
    def of(cls, stored: Mapping[str, Any], version: str | None) -> IndexCopy:
        """From a collection `get` with embeddings, documents and metadatas."""
        metadatas = list(stored["metadatas"] or [])
        domains = np.array([str(meta["domain"]) for meta in metadatas])
        return cls(
            vectors=np.asarray(stored["embeddings"], dtype=np.float32).reshape(len(metadatas), DIMENSION),
            documents=[str(doc) for doc in stored["documents"] or []],
            metadatas=metadatas,
            rows_by_domain={str(domain): np.flatnonzero(domains == domain) for domain in set(domains)},
            version=version,
        )

    def nearest(self, vector: Vector, domain: str, n: int) -> list[tuple[str, Mapping[str, Any], float]]:
        """The `n` entries of `domain` nearest to `vector`, as (text, metadata, cosine distance)."""
        rows = self.rows_by_domain.get(domain)
        if rows is None or n <= 0:
            return []
        distances = 1.0 - self.vectors[rows] @ np.asarray(vector, dtype=np.float32)
        nearest = np.argsort(distances, kind="stable")[:n]
        return [(self.documents[rows[i]], self.metadatas[rows[i]], float(distances[i])) for i in nearest]


@dataclass
class IngestReport:
    """What one ingestion changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    passages: int = 0


def indexed_hash(article: Article) -> str:
    """Changes with the article and with the way articles are indexed."""
    return f"v{INDEX_FORMAT}:{article.content_hash}"


@dataclass(frozen=True)
class _Entry:
    """One vector in the index: a paragraph, or an article's title standing for its first paragraph."""

    id: str
    embedded_text: str
    passage: Passage
    metadata: dict[str, str | int]


def _entries(article: Article) -> list[_Entry]:
    passages = article.passages()
    common: dict[str, str | int] = {
        "article_id": article.id,
        "title": article.title,
        "url": article.url,
        "domain": article.domain,
        "content_hash": indexed_hash(article),
    }

    def entry(entry_id: str, text: str, passage: Passage, kind: str) -> _Entry:
        meta = common | {"passage_id": passage.id, "index": passage.index, "kind": kind}
        return _Entry(id=entry_id, embedded_text=text, passage=passage, metadata=meta)

    # A short question sits far from any long paragraph but close to the title that asks it; the
    # title entry answers with the first paragraph, where every article gives its key answer.
    title = entry(f"{article.id}#title", article.title, passages[0], "title")
    # The title says what a paragraph is about, which the paragraph alone often does not.
    return [title] + [entry(p.id, f"{article.title}. {p.text}", p, "passage") for p in passages]


def open_client(path: Path, server_url: str | None = None) -> ClientAPI:
    """A Chroma client with telemetry off (the machine may be offline): of the Chroma server at
    `server_url` (`chroma run`, shared by several workers) when given, else persistent under `path`."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if server_url is not None:
        url = urlsplit(server_url)
        if url.scheme not in ("http", "https") or url.hostname is None:
            raise ValueError(f"the Chroma URL {server_url!r} is not an http(s)://host[:port] address")
        port = url.port or (443 if url.scheme == "https" else 8000)
        return chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class KnowledgeBase:
    """Passages of help-centre articles with the same MiniLM vectors triage uses.

    Searches run on an in-memory copy of the collection while it holds at most `memory_max_entries`
    entries (`IndexCopy`), refreshed when an ingestion changes the collection; larger indexes are
    searched by Chroma.
    """

    def __init__(
        self,
        client: ClientAPI,
        embedder: MiniLMEmbedder,
        memory_max_entries: int = MEMORY_MAX_ENTRIES,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.client = client
        """The Chroma client, for whoever needs to look beyond the articles (an erasure does)."""
        self._embedder = embedder
        self._collection: Collection = client.get_or_create_collection(
            COLLECTION,
            embedding_function=ChromaEmbedding(embedder),  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._memory_max_entries = memory_max_entries
        self._refresh_seconds = refresh_seconds
        self._copy: IndexCopy | None = None
        self._checked_at = float("-inf")
        self._loading = threading.Lock()

    def load_copy(self) -> None:
        """Read the in-memory copy now rather than at the first search (a start-up does)."""
        self._current_copy()

    @property
    def in_memory(self) -> int:
        """How many entries the in-memory copy holds (0 when searches go to Chroma)."""
        copy = self._copy
        return len(copy.documents) if copy is not None else 0

    def count(self) -> int:
        """How many passages are indexed (title entries aside)."""
        with _server_reachable():
            return len(self._collection.get(where={"kind": "passage"}, include=[])["ids"])

    def ingest(
        self, articles: Sequence[Article], on_progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Make the index equal to `articles`: new and changed ones (re)indexed, missing ones removed."""
        indexed = self._indexed_hashes()
        wanted = {article.id: article for article in articles}
        report = IngestReport()
        report.removed = sorted(set(indexed) - set(wanted))
        stale = [a for a in articles if a.id in indexed and indexed[a.id] != indexed_hash(a)]
        fresh = [a for a in articles if a.id not in indexed]
        report.updated = [a.id for a in stale]
        report.added = [a.id for a in fresh]
        report.unchanged = len(articles) - len(stale) - len(fresh)
        for article_id in report.removed + report.updated:
            self._collection.delete(where={"article_id": article_id})
        self._add(stale + fresh, on_progress)
        if report.added or report.updated or report.removed:
            with _server_reachable():
                self._collection.modify(metadata={VERSION_KEY: uuid.uuid4().hex})
        self._checked_at = float("-inf")  # this process's next search reads the new version
        report.passages = self.count()
        return report

    def _indexed_hashes(self) -> dict[str, str]:
        stored = self._collection.get(include=["metadatas"])
        return {str(meta["article_id"]): str(meta["content_hash"]) for meta in stored["metadatas"] or []}

    def _add(self, articles: Sequence[Article], on_progress: ProgressCallback | None) -> None:
        entries = [entry for article in articles for entry in _entries(article)]
        if not entries:
            return
        vectors: list[Vector] = []
        for start in range(0, len(entries), EMBED_CHUNK):
            chunk = entries[start : start + EMBED_CHUNK]
            vectors.extend(self._embedder.embed([entry.embedded_text for entry in chunk]))
            if on_progress is not None:
                on_progress(start + len(chunk), len(entries))
        # One add call: Chroma's persistent client pays a large fixed cost per call.
        self._collection.add(
            ids=[entry.id for entry in entries],
            embeddings=vectors,
            documents=[entry.passage.text for entry in entries],
            metadatas=[entry.metadata for entry in entries],
        )

    def search(self, vector: Vector, domain: Domain, k: int = 4, exclude: Sequence[str] = ()) -> list[Hit]:
        """The `k` nearest passages of one domain, nearest first, skipping passage ids in `exclude`."""
        # Excluded passages and title entries are dropped after the query; asking for more keeps `k`.
        wanted = 2 * (k + len(exclude))
        copy = self._current_copy()
        found = (
            copy.nearest(vector, domain, wanted) if copy is not None else self._query(vector, domain, wanted)
        )
        hits: dict[str, Hit] = {}
        for doc, meta, dist in found:
            passage_id = str(meta["passage_id"])
            if passage_id in exclude or passage_id in hits:
                continue  # a title entry and its first paragraph are one passage
            hits[passage_id] = Hit(
                passage_id=passage_id,
                article_id=str(meta["article_id"]),
                title=str(meta["title"]),
                url=str(meta["url"]),
                domain=str(meta["domain"]),
                index=int(meta["index"]),
                text=doc,
                distance=float(dist),
            )
        return list(hits.values())[:k]

    def _query(self, vector: Vector, domain: Domain, n: int) -> list[tuple[str, Mapping[str, Any], float]]:
        with _server_reachable():
            result = self._collection.query(
                query_embeddings=[vector],
                n_results=n,
                where={"domain": domain},
                include=["documents", "metadatas", "distances"],
            )
        return list(
            zip(
                (result["documents"] or [[]])[0],
                (result["metadatas"] or [[]])[0],
                (result["distances"] or [[]])[0],
                strict=True,
            )
        )

    def _current_copy(self) -> IndexCopy | None:
        """The in-memory copy, read again when the collection's version moved; None for a large index.

        While Chroma cannot be asked, the copy it last gave keeps serving; with no copy yet, the
        failure is the caller's (KnowledgeUnavailable).
        """
        if time.monotonic() - self._checked_at < self._refresh_seconds:
            return self._copy
        with self._loading:  # one reader at a time; the others wait and see its copy
            if time.monotonic() - self._checked_at < self._refresh_seconds:
                return self._copy
            try:
                self._copy = self._read_copy(self._copy)
            except KnowledgeUnavailable as error:
                if self._copy is None:
                    raise
                log.warning(
                    "serving the in-memory knowledge index; could not check it for changes: %s", error
                )
            self._checked_at = time.monotonic()
        return self._copy

    def _read_copy(self, current: IndexCopy | None) -> IndexCopy | None:
        with _server_reachable():
            version = (self.client.get_collection(COLLECTION).metadata or {}).get(VERSION_KEY)
            if current is not None and current.version == version:
                return current
            if self._collection.count() > self._memory_max_entries:
                return None
            stored = self._collection.get(include=["embeddings", "documents", "metadatas"])
        return IndexCopy.of(stored, str(version) if version is not None else None)
