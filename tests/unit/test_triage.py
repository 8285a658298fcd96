"""Triage: the classifier on clear and two-issue tickets, the head's persistence, and training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.triage.classifier import TriageClassifier, split_clauses
from agents.triage.dataset import CATEGORIES, Category, LabelledTicket
from agents.triage.features import FEATURE_COUNT, featurize
from agents.triage.head import MANIFEST_FILE, HeadMissingError, TriageHead
from agents.triage.training import TrainingError, _fit, _labels, train_head
from knowledge.embedding import MiniLMEmbedder

CLEAR_TICKETS: list[tuple[Category, str]] = [
    ("billing", "How much does the Premium plan cost each month?"),
    ("billing", "Why is there a 2% fee on my ATM withdrawal?"),
    ("account_access", "I forgot my passcode and I'm locked out of my account"),
    ("account_access", "How do I turn on two-factor authentication for my account?"),
    ("technical", "The app crashes every time I open it on my Android phone"),
    ("technical", "Notifications are not showing up on my iPhone"),
    ("refund", "I want a refund for the headphones I returned last week"),
    ("refund", "The merchant said they refunded me but I don't see the money"),
    ("other", "Which countries do you operate in?"),
    ("other", "Thanks for the help, have a nice day"),
]
TWO_ISSUES = "I was charged twice for my subscription and I also can't log in to my account"


@pytest.fixture(scope="module")
def classifier(head: TriageHead, embedder: MiniLMEmbedder) -> TriageClassifier:
    return TriageClassifier(head, embedder)


@pytest.mark.parametrize(("category", "text"), CLEAR_TICKETS)
def test_clear_ticket_gets_its_category(
    classifier: TriageClassifier, embedder: MiniLMEmbedder, category: Category, text: str
) -> None:
    result = classifier.classify(text, embedder.embed_one(text)).classification
    assert result["category"] == category
    assert result["confidence"] == max(result["probabilities"].values())
    assert result["confidence"] >= 0.5
    assert category not in result["secondary_intents"]
    assert result["decided_by"] == "local_classifier"
    assert result["model_version"] == classifier.version


def test_every_category_has_clear_examples() -> None:
    assert {category for category, _ in CLEAR_TICKETS} == set(CATEGORIES)


@pytest.mark.parametrize("text", [text for _, text in CLEAR_TICKETS] + [TWO_ISSUES])
def test_probabilities_cover_every_category_and_sum_to_one(
    classifier: TriageClassifier, embedder: MiniLMEmbedder, text: str
) -> None:
    probabilities = classifier.classify(text, embedder.embed_one(text)).classification["probabilities"]
    assert list(probabilities) == list(CATEGORIES)
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)  # each rounded to 4 places


def test_two_issue_ticket_reports_the_second_issue_and_the_risk(
    classifier: TriageClassifier, embedder: MiniLMEmbedder
) -> None:
    result = classifier.classify(TWO_ISSUES, embedder.embed_one(TWO_ISSUES))
    classification = result.classification
    assert classification["category"] in ("billing", "account_access")
    issues = {classification["category"], *classification["secondary_intents"]}
    assert {"billing", "account_access"} <= issues
    assert classification["category"] not in classification["secondary_intents"]
    assert "other" not in classification["secondary_intents"]
    assert "duplicate_charge" in classification["risk_signals"]
    assert set(result.intent_vectors) == {"billing", "account_access"}
    for vector in result.intent_vectors.values():
        assert vector.shape == (384,)


def test_single_issue_ticket_has_no_clause_vectors(
    classifier: TriageClassifier, embedder: MiniLMEmbedder
) -> None:
    text = "The app crashes every time I open it on my Android phone"
    assert classifier.classify(text, embedder.embed_one(text)).intent_vectors == {}


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        (
            TWO_ISSUES,
            ["I was charged twice for my subscription", "can't log in to my account"],
        ),
        (
            "My card is blocked. Also, the app keeps crashing! Thanks",
            ["My card is blocked.", "Also, the app keeps crashing!"],
        ),
        (
            "I need my invoice for March; my PIN does not work either",
            ["I need my invoice for March;", "my PIN does not work either"],
        ),
        ("Where is my new card?", ["Where is my new card?"]),
        ("hi and bye", []),
        ("", []),
    ],
)
def test_split_clauses(text: str, clauses: list[str]) -> None:
    assert split_clauses(text) == clauses


def test_head_save_load_round_trip(head: TriageHead, embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    head.save(tmp_path / "head")
    loaded = TriageHead.load(tmp_path / "head")
    texts = [text for _, text in CLEAR_TICKETS]
    vectors = embedder.embed(texts)
    assert loaded.version == head.version
    assert loaded.manifest == head.manifest
    assert loaded.categories == CATEGORIES
    np.testing.assert_array_equal(loaded.probabilities(vectors, texts), head.probabilities(vectors, texts))
    np.testing.assert_allclose(head.probabilities(vectors, texts).sum(axis=1), 1.0, atol=1e-6)


def test_loading_from_an_empty_dir_fails(tmp_path: Path) -> None:
    with pytest.raises(HeadMissingError, match="no trained triage head") as caught:
        TriageHead.load(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_loading_a_head_for_other_categories_fails(head: TriageHead, tmp_path: Path) -> None:
    head.save(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["categories"] = ["billing", "other"]
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(HeadMissingError, match="trained for other features"):
        TriageHead.load(tmp_path)


TINY_DATASET: list[tuple[Category, str]] = [
    ("billing", "How much does the Plus plan cost?"),
    ("billing", "What is the fee for currency exchange?"),
    ("billing", "Where can I download my invoice?"),
    ("account_access", "I can't log in to my account"),
    ("account_access", "I forgot my password"),
    ("account_access", "My account is locked after too many attempts"),
    ("technical", "The app keeps crashing on startup"),
    ("technical", "Push notifications stopped working"),
    ("technical", "Apple Pay does not work with my card"),
    ("refund", "I want a refund for my order"),
    ("refund", "When will I get my money back?"),
    ("refund", "The shop refunded me but nothing arrived"),
    ("other", "Hello, how are you?"),
    ("other", "Which countries do you support?"),
    ("other", "Thank you, goodbye"),
]


def tiny_tickets(skip: Category | None = None) -> list[LabelledTicket]:
    return [LabelledTicket(text=text, category=c) for c, text in TINY_DATASET if c != skip]


def test_train_head_on_a_tiny_dataset(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    tickets = tiny_tickets()
    head = train_head(tickets, embedder)
    texts = [t.text for t in tickets]
    predicted = head.probabilities(embedder.embed(texts), texts).argmax(axis=1)
    assert [CATEGORIES[i] for i in predicted] == [t.category for t in tickets]
    assert head.version.startswith("triage-head-")
    assert head.manifest["examples"] == len(TINY_DATASET)
    assert head.manifest["examples_per_category"] == {c: 3 for c in CATEGORIES}
    assert head.manifest["embedding_model"] == embedder.model_id
    head.save(tmp_path)
    assert TriageHead.load(tmp_path).version == head.version


def test_block_wise_probabilities_equal_the_fitted_model_on_stacked_rows(embedder: MiniLMEmbedder) -> None:
    tickets = tiny_tickets()
    texts = [t.text for t in tickets] + [TWO_ISSUES, "app crash :( 500 error!!"]
    vectors = embedder.embed(texts)
    model = _fit(embedder.embed([t.text for t in tickets]), [t.text for t in tickets], _labels(tickets), 16.0)
    head = TriageHead(
        weights=model.coef_.astype(np.float32),
        bias=model.intercept_.astype(np.float32),
        categories=CATEGORIES,
        manifest={"version": "test"},
    )
    expected = model.predict_proba(featurize(vectors, texts))
    np.testing.assert_allclose(head.probabilities(vectors, texts), expected, atol=1e-5)
    assert featurize(vectors, texts).shape == (len(texts), FEATURE_COUNT)


def test_training_is_deterministic(embedder: MiniLMEmbedder) -> None:
    assert train_head(tiny_tickets(), embedder).version == train_head(tiny_tickets(), embedder).version


def test_training_without_a_category_fails(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TrainingError, match="no examples of technical"):
        train_head(tiny_tickets(skip="technical"), embedder)
