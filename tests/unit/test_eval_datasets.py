"""The labelled eval sets in evals/datasets: they read, they agree with the project, and they are new."""

from __future__ import annotations

import collections
import json
import string
from pathlib import Path

import pytest

from agents.specialists.routing import SPECIALIST_FOR, SPECIALISTS
from agents.triage.dataset import CATEGORIES, LabelledTicket, read_tickets
from app.store.portfolio import FREE_ID, VIP_ID, demo_portfolio
from knowledge.articles import DEFAULT_ARTICLES_DIR, load_articles

REPO = Path(__file__).parents[2]
DATASETS = REPO / "evals" / "datasets"
TRAINING_EXAMPLES = REPO / "agents" / "triage" / "examples.jsonl"
DEV_SET = Path(__file__).parents[2].parent / "shared" / "evals" / "dev.jsonl"
"""An external labelled set that may sit next to the checkout; compared against only when present."""

MINIMUM_LINES = {
    "tickets.jsonl": 300,
    "multi_intent.jsonl": 40,
    "multi_turn.jsonl": 30,
    "tiers.jsonl": 50,
    "adversarial.jsonl": 50,
    "noisy.jsonl": 60,
}
FILES = tuple(MINIMUM_LINES)
TICKETS_PER_CATEGORY = 60
TIER_PAIRS = 25
NOISY_LANGUAGES = ("de", "fr", "es", "pt", "it", "nl")
NOISY_STYLES = ("typos", "caps", "pasted_log", "texting")

Tagged = list[tuple[str, LabelledTicket]]
"""Every ticket of the six files with the file it came from."""


def normalise(text: str) -> str:
    """Casefolded, whitespace collapsed, punctuation stripped at both ends."""
    return " ".join(text.casefold().split()).strip(string.punctuation + " ")


def texts_of(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {normalise(json.loads(line)["text"]) for line in lines if line.strip()}


@pytest.fixture(scope="module")
def datasets() -> dict[str, list[LabelledTicket]]:
    return {name: read_tickets(DATASETS / name) for name in FILES}


@pytest.fixture(scope="module")
def every_ticket(datasets: dict[str, list[LabelledTicket]]) -> Tagged:
    return [(name, ticket) for name, tickets in datasets.items() for ticket in tickets]


@pytest.mark.parametrize("name", FILES)
def test_each_file_reads_and_has_its_minimum_size(name: str) -> None:
    tickets = read_tickets(DATASETS / name)
    assert len(tickets) >= MINIMUM_LINES[name]


def test_ids_are_present_and_unique_across_files(every_ticket: Tagged) -> None:
    ids = [ticket.id for _, ticket in every_ticket]
    assert all(ids), [f"{name}: {t.text[:40]}" for name, t in every_ticket if not t.id]
    duplicates = [i for i, count in collections.Counter(ids).items() if count > 1]
    assert duplicates == []


def test_no_text_is_copied_from_the_triage_training_data(every_ticket: Tagged) -> None:
    training = texts_of(TRAINING_EXAMPLES)
    copied = [ticket.id for _, ticket in every_ticket if normalise(ticket.text) in training]
    assert copied == []


def test_no_text_is_copied_from_the_external_dev_set(every_ticket: Tagged) -> None:
    if not DEV_SET.is_file():
        pytest.skip(f"{DEV_SET} is not there")
    dev = texts_of(DEV_SET)
    copied = [ticket.id for _, ticket in every_ticket if normalise(ticket.text) in dev]
    assert copied == []


def test_texts_are_not_repeated_except_in_tier_pairs(every_ticket: Tagged) -> None:
    seen = collections.Counter(normalise(t.text) for name, t in every_ticket if name != "tiers.jsonl")
    assert [text for text, count in seen.items() if count > 1] == []


def test_tickets_are_balanced_across_categories(datasets: dict[str, list[LabelledTicket]]) -> None:
    counts = collections.Counter(t.category for t in datasets["tickets.jsonl"])
    assert {c: counts[c] for c in CATEGORIES if counts[c] < TICKETS_PER_CATEGORY} == {}


def test_tickets_need_a_person_at_a_realistic_rate(datasets: dict[str, list[LabelledTicket]]) -> None:
    tickets = datasets["tickets.jsonl"]
    rate = sum(t.expect_escalation for t in tickets) / len(tickets)
    assert 0.2 <= rate <= 0.3


def test_every_customer_is_in_the_demo_portfolio(every_ticket: Tagged) -> None:
    known = {customer.id for customer in demo_portfolio()}
    unknown = [(t.id, t.customer_id) for _, t in every_ticket if t.customer_id and t.customer_id not in known]
    assert unknown == []


def test_every_citation_is_an_article_of_the_expected_specialist(
    every_ticket: Tagged,
) -> None:
    domains = {article.id: article.domain for article in load_articles(DEFAULT_ARTICLES_DIR)}
    cited = [(t.id, t.expect_citation) for _, t in every_ticket if t.expect_citation]
    missing = [(id_, article) for id_, article in cited if article not in domains]
    assert missing == []
    # A specialist retrieves from its own domain only, so it can cite nothing else.
    elsewhere = [
        (t.id, t.expect_citation)
        for _, t in every_ticket
        if t.expect_citation and domains[t.expect_citation] != t.expect_specialist
    ]
    assert elsewhere == []


def test_every_ticket_names_a_valid_specialist(every_ticket: Tagged) -> None:
    invalid = [(t.id, t.expect_specialist) for _, t in every_ticket if t.expect_specialist not in SPECIALISTS]
    assert invalid == []
    # The shipped policy sends no ticket away from its category's specialist.
    moved = [t.id for _, t in every_ticket if t.expect_specialist != SPECIALIST_FOR[t.category]]
    assert moved == []


def test_refund_tickets_always_need_a_person(every_ticket: Tagged) -> None:
    # graph/policies/default.yaml, rule refunds-need-approval: money never moves without a person.
    unapproved = [t.id for _, t in every_ticket if t.category == "refund" and not t.expect_escalation]
    assert unapproved == []


def test_tier_pairs_share_their_text_with_one_vip_and_one_free_customer(
    datasets: dict[str, list[LabelledTicket]],
) -> None:
    pairs: dict[str, list[LabelledTicket]] = collections.defaultdict(list)
    for ticket in datasets["tiers.jsonl"]:
        pair_tags = [tag for tag in ticket.tags if tag.startswith("pair:")]
        assert len(pair_tags) == 1, ticket.id
        pairs[pair_tags[0]].append(ticket)
    assert len(pairs) >= TIER_PAIRS
    for tag, members in pairs.items():
        assert len(members) == 2, tag
        assert members[0].text == members[1].text, tag
        assert members[0].category == members[1].category, tag
        assert sorted(m.customer_id or "" for m in members) == sorted([VIP_ID, FREE_ID]), tag
        for member in members:
            expected = "tier:vip" if member.customer_id == VIP_ID else "tier:free"
            assert expected in member.tags, member.id


def test_multi_turn_cases_have_earlier_messages(datasets: dict[str, list[LabelledTicket]]) -> None:
    cases = datasets["multi_turn.jsonl"]
    assert [t.id for t in cases if not t.conversation] == []
    assert all(1 <= len(t.conversation) <= 3 for t in cases)
    kinds = collections.Counter(tag for t in cases for tag in t.tags)
    assert kinds["follow_up"] and kinds["topic_switch"] and kinds["escalates_later"]


def test_multi_intent_tickets_name_a_different_secondary_intent(
    datasets: dict[str, list[LabelledTicket]],
) -> None:
    for ticket in datasets["multi_intent.jsonl"]:
        secondary = [tag.removeprefix("secondary:") for tag in ticket.tags if tag.startswith("secondary:")]
        assert len(secondary) == 1, ticket.id
        assert secondary[0] in CATEGORIES and secondary[0] != ticket.category, ticket.id


def test_adversarial_tickets_are_tagged_injection_or_abuse(datasets: dict[str, list[LabelledTicket]]) -> None:
    untagged = [t.id for t in datasets["adversarial.jsonl"] if not {"injection", "abuse"} & set(t.tags)]
    assert untagged == []


def test_noisy_tickets_cover_every_language_and_style(datasets: dict[str, list[LabelledTicket]]) -> None:
    tags = collections.Counter(tag for t in datasets["noisy.jsonl"] for tag in t.tags)
    missing = [f"lang:{lang}" for lang in NOISY_LANGUAGES if not tags[f"lang:{lang}"]]
    missing += [style for style in NOISY_STYLES if not tags[style]]
    assert missing == []
