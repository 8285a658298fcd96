"""KnowledgeBase: idempotent ingestion into a fresh Chroma dir, and domain-filtered nearest-first search,
both in memory (the default) and by Chroma (an index too large for memory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.articles import DEFAULT_ARTICLES_DIR, Article, load_articles
from knowledge.embedding import MiniLMEmbedder
from knowledge.store import MEMORY_MAX_ENTRIES, KnowledgeBase, open_client

ARTICLES = {
    "billing/fees.md": (
        "billing-fees",
        "How much does an ATM withdrawal cost?",
        "billing",
        "ATM withdrawals are free up to EUR 200 a month. Above that we charge 2%.\n\n"
        "Foreign ATM operators may add their own fee, shown on screen before you confirm.\n",
    ),
    "billing/invoices.md": (
        "billing-invoices",
        "Where do I find my invoices?",
        "billing",
        "Invoices are under Profile > Plan > Invoices as PDF files.\n",
    ),
    "access/password.md": (
        "access-password",
        "How do I reset my password?",
        "access",
        "Tap Forgot password on the login screen and follow the link we email you.\n\n"
        "The reset link expires after 30 minutes.\n",
    ),
    "technical/crash.md": (
        "technical-crash",
        "The app crashes when I open it",
        "technical",
        "Update the app to the latest version, then restart your phone.\n",
    ),
}


def write_article(folder: Path, relative: str, body: str | None = None) -> None:
    article_id, title, domain, text = ARTICLES[relative]
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\nid: {article_id}\ntitle: {title}\ndomain: {domain}\n"
        f"url: https://help.example/{article_id}\n---\n{body or text}",
        encoding="utf-8",
    )


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    for relative in ARTICLES:
        write_article(folder, relative)
    return folder


SEARCHED_BY = {"memory": MEMORY_MAX_ENTRIES, "chroma": 0}


@pytest.fixture(params=sorted(SEARCHED_BY))
def knowledge(request: pytest.FixtureRequest, tmp_path: Path, embedder: MiniLMEmbedder) -> KnowledgeBase:
    return KnowledgeBase(
        open_client(tmp_path / "chroma"), embedder, memory_max_entries=SEARCHED_BY[request.param]
    )


def test_ingest_is_idempotent_and_tracks_changes(
    articles_dir: Path, knowledge: KnowledgeBase, embedder: MiniLMEmbedder
) -> None:
    all_ids = sorted(a[0] for a in ARTICLES.values())

    first = knowledge.ingest(load_articles(articles_dir))
    assert sorted(first.added) == all_ids
    assert (first.updated, first.removed, first.unchanged) == ([], [], 0)
    size = knowledge.count()
    assert size > 0
    assert first.passages == size

    second = knowledge.ingest(load_articles(articles_dir))
    assert (second.added, second.updated, second.removed) == ([], [], [])
    assert second.unchanged == len(ARTICLES)
    assert knowledge.count() == size

    new_text = "Invoices are now emailed to you on the first day of every month."
    write_article(articles_dir, "billing/invoices.md", new_text + "\n")
    third = knowledge.ingest(load_articles(articles_dir))
    assert third.updated == ["billing-invoices"]
    assert (third.added, third.removed, third.unchanged) == ([], [], len(ARTICLES) - 1)
    hits = knowledge.search(embedder.embed_one("when are invoices emailed"), "billing", k=4)
    texts = [h.text for h in hits if h.article_id == "billing-invoices"]
    assert texts == [new_text]
    assert knowledge.count() == size

    (articles_dir / "technical" / "crash.md").unlink()
    fourth = knowledge.ingest(load_articles(articles_dir))
    assert fourth.removed == ["technical-crash"]
    assert (fourth.added, fourth.updated, fourth.unchanged) == ([], [], len(ARTICLES) - 1)
    assert knowledge.search(embedder.embed_one("the app crashes"), "technical", k=4) == []
    assert knowledge.count() < size


def test_a_reopened_client_sees_the_same_index(
    articles_dir: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    KnowledgeBase(open_client(tmp_path / "chroma"), embedder).ingest(load_articles(articles_dir))
    reopened = KnowledgeBase(open_client(tmp_path / "chroma"), embedder)
    report = reopened.ingest(load_articles(articles_dir))
    assert report.unchanged == len(ARTICLES)
    assert report.added == report.updated == report.removed == []


@pytest.fixture
def filled(articles_dir: Path, knowledge: KnowledgeBase) -> KnowledgeBase:
    knowledge.ingest(load_articles(articles_dir))
    return knowledge


def test_search_filters_by_domain(filled: KnowledgeBase, embedder: MiniLMEmbedder) -> None:
    # A password question searched in billing still only returns billing passages.
    hits = filled.search(embedder.embed_one("how do I reset my password"), "billing", k=10)
    assert hits
    assert {h.domain for h in hits} == {"billing"}
    assert {h.article_id for h in hits} == {"billing-fees", "billing-invoices"}
    assert filled.search(embedder.embed_one("how do I reset my password"), "refunds", k=4) == []


def test_search_returns_nearest_first_with_cosine_distances(
    filled: KnowledgeBase, embedder: MiniLMEmbedder
) -> None:
    hits = filled.search(embedder.embed_one("How much is the fee for ATM withdrawals?"), "billing", k=10)
    assert hits[0].article_id == "billing-fees"
    assert hits[0].passage_id == "billing-fees#0"
    distances = [h.distance for h in hits]
    assert distances == sorted(distances)
    assert all(0.0 <= d <= 2.0 for d in distances)
    assert len({h.passage_id for h in hits}) == len(hits) == 3  # the title entry is not a passage
    first = hits[0]
    assert first.title == "How much does an ATM withdrawal cost?"
    assert first.url == "https://help.example/billing-fees"
    assert first.index == 0
    assert first.text.startswith("ATM withdrawals are free up to EUR 200 a month.")


def test_search_respects_k(filled: KnowledgeBase, embedder: MiniLMEmbedder) -> None:
    hits = filled.search(embedder.embed_one("ATM fee"), "billing", k=1)
    assert len(hits) == 1


def test_search_respects_exclude(filled: KnowledgeBase, embedder: MiniLMEmbedder) -> None:
    vector = embedder.embed_one("How much is the fee for ATM withdrawals?")
    everything = [h.passage_id for h in filled.search(vector, "billing", k=10)]
    excluded = filled.search(vector, "billing", k=10, exclude=["billing-fees#0"])
    assert [h.passage_id for h in excluded] == [p for p in everything if p != "billing-fees#0"]


def test_exclude_never_hides_a_remaining_passage(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    knowledge = KnowledgeBase(open_client(tmp_path / "other-chroma"), embedder)
    knowledge.ingest(
        [
            Article(
                "billing-a", "How do I pay my invoice?", "billing", "u/a", "", "Pay invoices under Billing."
            ),
            Article(
                "billing-b", "How do I pay my bill?", "billing", "u/b", "", "Bills are paid under Payments."
            ),
            Article(
                "billing-c", "What do the plans cost?", "billing", "u/c", "", "Plus costs EUR 5 a month."
            ),
        ]
    )
    vector = embedder.embed_one("how do I pay my invoice or bill")
    hits = knowledge.search(vector, "billing", k=1, exclude=["billing-a#0", "billing-b#0"])
    assert [h.passage_id for h in hits] == ["billing-c#0"]


def test_count_is_the_number_of_passages(articles_dir: Path, knowledge: KnowledgeBase) -> None:
    articles = load_articles(articles_dir)
    report = knowledge.ingest(articles)
    assert report.passages == knowledge.count() == sum(len(a.passages()) for a in articles)


def test_in_memory_search_finds_what_chroma_finds(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    in_memory = KnowledgeBase(open_client(tmp_path / "chroma"), embedder)
    in_memory.ingest(load_articles(DEFAULT_ARTICLES_DIR))
    by_chroma = KnowledgeBase(open_client(tmp_path / "chroma"), embedder, memory_max_entries=0)
    questions = [
        ("I was charged twice this month", "billing"),
        ("I forgot my password and the reset email never came", "access"),
        ("the app crashes on start", "technical"),
        ("how long does a refund take", "refunds"),
        ("which countries do you operate in", "general"),
    ]
    for question, domain in questions:
        vector = embedder.embed_one(question)
        found, expected = in_memory.search(vector, domain, k=4), by_chroma.search(vector, domain, k=4)
        assert found and [h.passage_id for h in found] == [h.passage_id for h in expected]
        assert [h.distance for h in found] == pytest.approx([h.distance for h in expected], abs=1e-5)
        skip = [found[0].passage_id]
        assert [h.passage_id for h in in_memory.search(vector, domain, k=3, exclude=skip)] == [
            h.passage_id for h in by_chroma.search(vector, domain, k=3, exclude=skip)
        ]
    assert in_memory.in_memory > 0 and by_chroma.in_memory == 0


def test_an_ingestion_elsewhere_is_seen_at_the_next_refresh(
    articles_dir: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    ingester = KnowledgeBase(open_client(tmp_path / "chroma"), embedder)
    ingester.ingest(load_articles(articles_dir))
    fresh = KnowledgeBase(open_client(tmp_path / "chroma"), embedder, refresh_seconds=0)
    stale = KnowledgeBase(open_client(tmp_path / "chroma"), embedder, refresh_seconds=3600)
    vector = embedder.embed_one("The app crashes when I open it")
    assert [h.article_id for h in fresh.search(vector, "technical")] == ["technical-crash"]
    assert [h.article_id for h in stale.search(vector, "technical")] == ["technical-crash"]
    (articles_dir / "technical/crash.md").unlink()
    ingester.ingest(load_articles(articles_dir))
    assert fresh.search(vector, "technical") == []
    # Within its refresh interval a worker serves the copy it read.
    assert [h.article_id for h in stale.search(vector, "technical")] == ["technical-crash"]
