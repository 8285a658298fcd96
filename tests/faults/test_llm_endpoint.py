"""An LLM endpoint that is down, slow or answers garbage: questions get the offline answer, tickets that
need an action go to a person, nothing is a 500; LLM answers come back once the endpoint is healthy,
without a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_llm import FakeLLM, error, garbage, text
from routers import Router, eventually, new_conversation, post, start, stop

from app.settings import Settings

QUESTION = "How do I reset my password?"
REFUND = "Please refund my last invoice, I was charged twice"
ANSWER = "Use the reset link on the sign-in page [1]."
# What a turn records when the model could not be used; an open breaker is the endpoint failing too.
UNAVAILABLE = {"endpoint_unavailable", "endpoint_error", "invalid_response", "circuit_open"}

Fault = Callable[[FakeLLM], None]


def down(llm: FakeLLM) -> None:
    llm.stop()


def answering(step: Any) -> Fault:
    return lambda llm: llm.always(step)


FAULTS: dict[str, Fault] = {
    "down": down,
    "slow": answering(text(ANSWER).after(3)),
    "invalid JSON": answering(garbage("{not json at all")),
    "JSON that is not a chat completion": answering(garbage('{"result": "ok"}')),
    "HTML error page": answering(garbage("<html>bad gateway</html>", content_type="text/html")),
    "HTTP 500": answering(error(500)),
    "HTTP 429": answering(error(429, retry_after=1)),
}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        fake.always(text(ANSWER))
        yield fake


@pytest.fixture(scope="module")
def router(
    llm: FakeLLM, make_settings: Callable[[Path], Settings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Router]:
    scratch = tmp_path_factory.mktemp("llm-faults")
    router = start(
        make_settings(scratch / "data"),
        scratch / "server.log",
        llm_model="fake",
        llm_base_url=llm.base_url,
        llm_api_key="not-needed",
        llm_structured_method="json_mode",
        llm_tool_calling="native",
        llm_timeout_seconds="1",
        llm_max_attempts="1",
        llm_breaker_threshold="3",
        llm_breaker_reset_seconds="0.5",
    )
    yield router
    stop(router)


async def ask(client: httpx.AsyncClient, message: str) -> httpx.Response:
    """One message in a new conversation of a demo customer."""
    return await post(client, await new_conversation(client, "cus_free"), message)


async def answered_by_the_model(client: httpx.AsyncClient) -> bool:
    response = await ask(client, QUESTION)
    assert response.status_code in (200, 202), response.text
    usage = response.json()["llm"]
    return response.status_code == 200 and usage["calls"] >= 1 and not usage["fallbacks"]


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_llm_degrades_and_recovers_without_a_restart(
    fault: str, llm: FakeLLM, router: Router
) -> None:
    async with router.client() as client:
        await eventually(lambda: answered_by_the_model(client), "the healthy model answers")
        FAULTS[fault](llm)
        try:
            question = await ask(client, QUESTION)
            assert question.status_code == 200, question.text
            outcome = question.json()
            assert set(outcome["llm"]["fallbacks"]) & UNAVAILABLE, outcome["llm"]
            assert outcome["response"] and not outcome["escalated"]  # the offline, extractive answer
            assert outcome["citations"]

            # Money back needs an action: a person gets the ticket (with the offline draft to approve).
            refund = await ask(client, REFUND)
            assert refund.status_code == 202, refund.text
            handed_off = refund.json()
            assert handed_off["escalated"] and handed_off["category"] == "refund", handed_off
            assert set(handed_off["llm"]["fallbacks"]) & UNAVAILABLE, handed_off["llm"]
        finally:
            if fault == "down":
                llm.start()
            llm.always(text(ANSWER))
        await eventually(lambda: answered_by_the_model(client), f"LLM answers again after '{fault}'")
        assert router.process.poll() is None
