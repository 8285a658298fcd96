"""The knowledge index on a Chroma server (`chroma run`), reached over HTTP as scaled deployments do."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evals.load import free_port
from knowledge.articles import DEFAULT_ARTICLES_DIR, load_articles
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import KnowledgeBase, open_client

pytestmark = pytest.mark.integration
CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the Chroma server did not start", pytrace=False)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_articles_ingested_into_a_chroma_server_are_found_over_http(
    chroma_url: str, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    articles = [a for a in load_articles(DEFAULT_ARTICLES_DIR) if a.domain == "access"]
    KnowledgeBase(open_client(tmp_path, chroma_url), embedder).ingest(articles)
    # Another worker, another client: the same index.
    other = KnowledgeBase(open_client(tmp_path / "unused", chroma_url), embedder)
    hits = other.search(embedder.embed_one("I forgot my password"), "access", k=3)
    assert hits and hits[0].article_id == "access-reset-password"
    assert not (tmp_path / "unused").exists() or not any((tmp_path / "unused").iterdir())


def test_a_chroma_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an http"):
        open_client(tmp_path, "postgres://nope")
