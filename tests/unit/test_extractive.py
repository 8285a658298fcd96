"""Extractive answers: only retrieved text is quoted, every quoted article is cited, far passages dropped."""

from __future__ import annotations

import pytest

from agents.specialists.extractive import RetrievedPassage, compose_answer, retrieve
from agents.toolkit import Toolkit
from knowledge.articles import Domain

SOURCE_PREFIX = "Source: "
SECONDARY_PREFIX = "About your other question: "


def passage(article: str, index: int, distance: float, text: str) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=f"{article}#{index}",
        article_id=article,
        title=f"Title of {article}",
        url=f"https://help.example/{article}",
        index=index,
        distance=distance,
        text=text,
    )


def assert_only_quotes(answer: str, passages: list[RetrievedPassage]) -> None:
    """Every line is a passage, the secondary framing around one, or the sources line."""
    texts = [p["text"] for p in passages]
    lines = [line for line in answer.split("\n") if line]
    assert lines[-1].startswith(SOURCE_PREFIX)
    for line in lines[:-1]:
        quoted = line.removeprefix(SECONDARY_PREFIX)
        assert quoted and any(quoted in text for text in texts), line


def test_no_passages_no_answer() -> None:
    assert compose_answer([]) is None
    assert compose_answer([], [passage("refunds-a", 0, 0.2, "Refunds take 5 days.")]) is None


def test_best_passage_is_quoted_and_cited() -> None:
    best = passage("billing-fees", 1, 0.20, "ATM withdrawals above EUR 200 cost 2%.")
    other = passage("billing-plans", 0, 0.22, "Plus costs EUR 4.99 a month.")
    draft = compose_answer([best, other])
    assert draft is not None
    assert draft["text"] == (
        "ATM withdrawals above EUR 200 cost 2%.\n\n"
        "Source: Title of billing-fees (https://help.example/billing-fees)"
    )
    assert draft["citations"] == [
        {
            "article_id": "billing-fees",
            "title": "Title of billing-fees",
            "url": "https://help.example/billing-fees",
        }
    ]
    assert draft["passage_ids"] == ["billing-fees#1"]


def test_a_close_sibling_is_quoted_in_article_order() -> None:
    best = passage("billing-fees", 2, 0.30, "Foreign operators add their own fee.")
    sibling = passage("billing-fees", 0, 0.33, "Withdrawals are free up to EUR 200.")
    far_sibling = passage("billing-fees", 1, 0.40, "The allowance resets monthly.")
    draft = compose_answer([best, sibling, far_sibling])
    assert draft is not None
    assert draft["passage_ids"] == ["billing-fees#0", "billing-fees#2"]
    assert draft["text"].startswith(
        "Withdrawals are free up to EUR 200.\n\nForeign operators add their own fee."
    )
    assert "allowance resets" not in draft["text"]
    assert [c["article_id"] for c in draft["citations"]] == ["billing-fees"]


def test_at_most_two_passages_are_quoted() -> None:
    primary = [passage("billing-fees", i, 0.3, f"Paragraph {i}.") for i in range(4)]
    draft = compose_answer(primary)
    assert draft is not None
    assert draft["passage_ids"] == ["billing-fees#0", "billing-fees#1"]


def test_secondary_issue_is_quoted_and_cited() -> None:
    primary = [passage("billing-charged-twice", 0, 0.25, "A duplicate charge usually drops off in 3 days.")]
    secondary = [
        passage("access-reset-password", 0, 0.3, "Tap Forgot password on the login screen."),
        passage("access-locked", 0, 0.35, "Locked accounts unlock after 30 minutes."),
    ]
    draft = compose_answer(primary, secondary)
    assert draft is not None
    assert_only_quotes(draft["text"], primary + secondary)
    assert f"{SECONDARY_PREFIX}Tap Forgot password on the login screen." in draft["text"]
    assert "Locked accounts" not in draft["text"]
    assert [c["article_id"] for c in draft["citations"]] == ["billing-charged-twice", "access-reset-password"]
    assert draft["passage_ids"] == ["billing-charged-twice#0", "access-reset-password#0"]
    sources = draft["text"].split("\n")[-1]
    for citation in draft["citations"]:
        assert f"{citation['title']} ({citation['url']})" in sources


@pytest.mark.parametrize(
    ("question", "domain", "other_question", "other_domain"),
    [
        ("How much does it cost to withdraw cash at an ATM?", "billing", "I forgot my password", "access"),
        ("The app crashes when I open it", "technical", None, None),
        ("How do I reset my password?", "access", "How do I download my invoices?", "billing"),
        ("When will I get my refund for a cancelled order?", "refunds", None, None),
    ],
)
def test_answers_from_the_index_quote_only_retrieved_text(
    toolkit: Toolkit,
    question: str,
    domain: Domain,
    other_question: str | None,
    other_domain: Domain | None,
) -> None:
    embed = toolkit.embedder.embed_one
    primary = retrieve(toolkit.knowledge, embed(question), domain, k=4, max_distance=2.0)
    secondary = (
        retrieve(toolkit.knowledge, embed(other_question), other_domain, k=1, max_distance=2.0)
        if other_question and other_domain
        else []
    )
    assert primary
    draft = compose_answer(primary, secondary)
    assert draft is not None
    assert_only_quotes(draft["text"], primary + secondary)
    by_id = {p["passage_id"]: p for p in primary + secondary}
    assert set(draft["passage_ids"]) <= set(by_id)
    cited = {c["article_id"] for c in draft["citations"]}
    assert {by_id[pid]["article_id"] for pid in draft["passage_ids"]} == cited
    sources = draft["text"].split("\n")[-1]
    for citation in draft["citations"]:
        assert citation["url"] in sources


def test_retrieve_drops_passages_beyond_max_distance(toolkit: Toolkit) -> None:
    vector = toolkit.embedder.embed_one("What's the fee for taking cash out of a cash machine?")
    everything = retrieve(toolkit.knowledge, vector, "billing", k=6, max_distance=2.0)
    assert len(everything) == 6
    distances = [p["distance"] for p in everything]
    assert distances == sorted(distances)
    assert distances[0] < distances[-1]
    cutoff = (distances[0] + distances[-1]) / 2
    near = retrieve(toolkit.knowledge, vector, "billing", k=6, max_distance=cutoff)
    assert near == [p for p in everything if p["distance"] <= cutoff]
    assert 0 < len(near) < len(everything)
    assert distances[0] > 0.01
    assert retrieve(toolkit.knowledge, vector, "billing", k=6, max_distance=distances[0] - 0.01) == []


def test_retrieve_stays_in_its_domain_and_skips_excluded(toolkit: Toolkit) -> None:
    vector = toolkit.embedder.embed_one("How much does it cost to withdraw cash at an ATM?")
    first = retrieve(toolkit.knowledge, vector, "billing", k=4, max_distance=2.0)
    assert all(p["article_id"].startswith("billing-") for p in first)
    again = retrieve(
        toolkit.knowledge, vector, "billing", k=4, max_distance=2.0, exclude=[first[0]["passage_id"]]
    )
    assert first[0]["passage_id"] not in {p["passage_id"] for p in again}
