"""Secrets never reach the logs: API keys (good, wrong, revoked) and the LLM endpoint's key, through
requests that succeed, fail authentication, and hit an unreachable model endpoint at DEBUG level."""

from __future__ import annotations

import logging

import pytest
from api_helpers import auth, issue_key, new_conversation, post_text
from fastapi.testclient import TestClient
from pydantic import SecretStr

from agents.toolkit import Toolkit
from app.api import create_app
from app.settings import Settings

LLM_KEY = "sk-test-NEVER-LOG-THIS-0123456789"


def test_no_secret_appears_in_any_log_record(
    settings: Settings, toolkit: Toolkit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A real OpenAI-compatible client towards a closed port: every model call fails and is logged.
    llm_settings = settings.model_copy(
        update={
            "llm_model": "some-model",
            "llm_base_url": "http://127.0.0.1:9/v1",
            "llm_api_key": SecretStr(LLM_KEY),
            "llm_timeout_seconds": 0.5,
        }
    )
    with TestClient(create_app(llm_settings, toolkit)) as client:
        widget = issue_key(client, "widget", "widget")
        admin = issue_key(client, "admin", "admin")
        conversation = new_conversation(client, widget, customer_id="cus_free")
        post_text(client, widget, conversation, "How do I reset my password?")
        client.get("/v1/reviews", headers=auth(widget))  # forbidden for a widget key
        client.get("/v1/reviews", headers=auth(widget.secret + "x"))  # a wrong secret
        client.delete(f"/v1/keys/{widget.principal.key_id}", headers=auth(admin))
        client.get(f"/v1/conversations/{conversation}", headers=auth(widget))  # a revoked key
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert logged  # the model calls and requests were logged at all
    for secret in (LLM_KEY, widget.secret, admin.secret, widget.secret.rsplit("_", 1)[-1]):
        assert secret not in logged
