"""LLM mode over HTTP: a refund proposed by the agent, approved by a reviewer, executed once; tracing on.

The endpoint is not OpenAI's, so the specialist plans its tool calls (the default there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_helpers import auth, issue_key, new_conversation, pending_review, post_text
from fastapi.testclient import TestClient
from llm_fakes import ScriptedModels, as_json

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings
from app.store.portfolio import FREE_ID

REFUND = "The speaker from order ord_free_1001 arrived broken, I want my money back"


@pytest.fixture
def models() -> ScriptedModels:
    return ScriptedModels(
        refunds=[
            as_json(
                calls=[
                    {"tool": "refund_eligibility", "arguments": {"order_id": "ord_free_1001"}},
                    {
                        "tool": "issue_refund",
                        "arguments": {"order_id": "ord_free_1001", "amount_cents": 5990, "reason": "broken"},
                    },
                ]
            ),
            as_json(answer="A colleague will confirm your refund of EUR 59.90 shortly.", articles=[]),
        ]
    )


@pytest.fixture
def llm_client(
    settings: Settings, toolkit: Toolkit, models: ScriptedModels, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    # Tracing on, towards a LangSmith that does not answer: turns must not notice.
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "http://127.0.0.1:9")
    llm_settings = settings.model_copy(
        update={"llm_model": "scripted", "llm_base_url": "http://127.0.0.1:9/v1"}
    )
    with TestClient(create_app(llm_settings, toolkit, models)) as client:
        yield client


def test_an_approved_refund_is_executed_once_and_the_customer_told(
    llm_client: TestClient, models: ScriptedModels
) -> None:
    widget = issue_key(llm_client, "widget", "widget")
    reviewer = issue_key(llm_client, "reviewer", "ana")
    conversation_id = new_conversation(llm_client, widget, customer_id=FREE_ID)
    waiting = post_text(llm_client, widget, conversation_id, REFUND)
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["llm"]["calls"] == 2  # the plan and the answer
    review = pending_review(llm_client, reviewer, conversation_id)
    assert review["handoff"]["proposed_action"]["arguments"]["amount_cents"] == 5990
    assert [u["name"] for u in review["handoff"]["tool_uses"]] == ["refund_eligibility", "issue_refund"]

    url = f"/v1/reviews/{review['id']}"
    assert llm_client.post(f"{url}/claim", headers=auth(reviewer)).status_code == 200
    approved = llm_client.post(f"{url}/resolve", json={"action": "approve"}, headers=auth(reviewer))
    assert approved.status_code == 200, approved.text
    result = approved.json()["action_result"]
    assert result["status"] == "executed" and result["reference"] in approved.json()["response"]
    again = llm_client.post(f"{url}/resolve", json={"action": "approve"}, headers=auth(reviewer))
    assert again.status_code == 409  # a second approval is refused, not executed again
