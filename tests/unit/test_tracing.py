"""LangSmith tracing: off without configuration, redacted and tagged when on, harmless when unreachable."""

from __future__ import annotations

import pytest
from langsmith.run_helpers import get_tracing_context

from agents.safety.pii import default_redactor
from app.tracing import redact_tree, traced, tracing_requested


def test_tracing_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing_requested()
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-test")
    assert tracing_requested()


def test_traces_are_redacted_all_the_way_down() -> None:
    data = {"inputs": {"messages": [{"content": "mail me at jane.doe@example.com"}], "turn": 3}}
    redacted = redact_tree(data, default_redactor())
    assert redacted == {"inputs": {"messages": [{"content": "mail me at <EMAIL_ADDRESS>"}], "turn": 3}}


def test_a_traced_turn_carries_its_metadata_and_the_redacting_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: uploads fail quietly
    with traced({"conversation_id": "c1", "customer_tier": "enterprise"}, default_redactor()):
        context = get_tracing_context()
        assert context["metadata"] == {"conversation_id": "c1", "customer_tier": "enterprise"}
        assert context["enabled"] is True and context["client"] is not None
    monkeypatch.delenv("LANGSMITH_TRACING")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    with traced({"conversation_id": "c2"}, default_redactor()):
        assert get_tracing_context()["metadata"] is None
