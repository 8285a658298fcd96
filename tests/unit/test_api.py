"""The HTTP API through FastAPI's TestClient, with the session's models shared in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from graph.outcome import TurnOutcome


@pytest.fixture
def client(settings: Settings, toolkit: Toolkit) -> Iterator[TestClient]:
    with TestClient(create_app(settings, toolkit)) as client:
        yield client


def test_clear_ticket_is_answered_with_citations(client: TestClient, toolkit: Toolkit) -> None:
    response = client.post("/v1/route", json={"text": "How do I reset my password?"})
    assert response.status_code == 200, response.text
    outcome = TurnOutcome.model_validate(response.json())
    assert outcome.turn == 1
    assert outcome.status == "answered"
    assert outcome.category == "account_access"
    assert outcome.specialist == "access"
    assert not outcome.escalated
    assert outcome.citations
    for citation in outcome.citations:
        assert citation["url"] in outcome.response
    assert outcome.versions["triage_model"] == toolkit.classifier.version


def test_second_message_continues_the_conversation(client: TestClient) -> None:
    first = client.post("/v1/route", json={"text": "How do I reset my password?"}).json()
    response = client.post(
        "/v1/route",
        json={"text": "The reset link in the email has expired", "conversation_id": first["conversation_id"]},
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["conversation_id"] == first["conversation_id"]
    assert second["turn"] == 2


def test_conversations_are_separate(client: TestClient) -> None:
    first = client.post("/v1/route", json={"text": "How do I reset my password?"}).json()
    other = client.post("/v1/route", json={"text": "The app crashes when I open it"}).json()
    assert other["conversation_id"] != first["conversation_id"]
    assert other["turn"] == 1


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_unprocessable(client: TestClient, text: str) -> None:
    assert client.post("/v1/route", json={"text": text}).status_code == 422


def test_missing_text_is_unprocessable(client: TestClient) -> None:
    assert client.post("/v1/route", json={}).status_code == 422


def test_too_long_text_is_unprocessable(client: TestClient) -> None:
    assert client.post("/v1/route", json={"text": "a" * 4001}).status_code == 422


def test_unknown_conversation_is_not_found(client: TestClient) -> None:
    response = client.post("/v1/route", json={"text": "Where is my card?", "conversation_id": "nope"})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_escalating_ticket_waits_for_a_human(client: TestClient) -> None:
    response = client.post("/v1/route", json={"text": "I want a refund for my broken headphones"})
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["status"] == "waiting_for_human"
    assert outcome["escalated"] is True
    assert outcome["escalation_reason"]
    assert "refund_request" in outcome["risk_signals"]
    # A later message waits with the conversation instead of being routed again.
    follow_up = client.post(
        "/v1/route", json={"text": "Any news on my refund?", "conversation_id": outcome["conversation_id"]}
    ).json()
    assert follow_up["status"] == "waiting_for_human"
    assert follow_up["turn"] == 1


def test_healthz_reports_the_model_versions(client: TestClient, toolkit: Toolkit) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["triage_model"] == toolkit.classifier.version
    assert health["triage_model"].startswith("triage-head-")
    assert health["embedding_model"] == toolkit.embedder.model_id
    assert health["knowledge_passages"] > 0
