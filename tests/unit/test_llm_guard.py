"""The guard around every model call: timeouts, retries for transient errors only, breaker, budgets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from llm_fakes import ScriptedModels, Slow, as_json, llm_config, say
from pydantic import BaseModel

from agents.llm.config import Budgets, Endpoint
from agents.llm.guard import LLMGuard, LLMUnavailable
from agents.llm.structured import resolve_method, structured_call
from agents.llm.usage import UsageMeter

REQUEST = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def server_error() -> openai.InternalServerError:
    return openai.InternalServerError("boom", response=httpx.Response(500, request=REQUEST), body=None)


def bad_request() -> openai.BadRequestError:
    return openai.BadRequestError("no", response=httpx.Response(400, request=REQUEST), body=None)


async def ask(guard: LLMGuard, models: ScriptedModels, meter: UsageMeter | None = None) -> str:
    model = models.chat_model("billing")
    reply = await guard.call("billing", meter or UsageMeter(0), lambda: model.ainvoke([HumanMessage("hi")]))
    return str(reply.content)


async def test_a_call_records_tokens_in_the_meter_and_the_daily_ledger() -> None:
    guard = LLMGuard(llm_config(budgets=Budgets(input_price_per_million=2.0, output_price_per_million=8.0)))
    meter = UsageMeter(conversation_tokens=0)
    assert await ask(guard, ScriptedModels(billing=[say("hello")]), meter) == "hello"
    assert (meter.calls, meter.input_tokens, meter.output_tokens) == (1, 120, 30)
    assert meter.cost == pytest.approx((120 * 2.0 + 30 * 8.0) / 1e6)
    assert guard.ledger.tokens == 150


async def test_a_transient_error_is_retried_and_a_permanent_one_is_not() -> None:
    models = ScriptedModels(billing=[server_error(), say("second try")])
    assert await ask(LLMGuard(llm_config()), models) == "second try"
    assert models.calls("billing") == 2

    models = ScriptedModels(billing=[bad_request(), say("never reached")])
    with pytest.raises(LLMUnavailable) as refused:
        await ask(LLMGuard(llm_config()), models)
    assert refused.value.reason == "endpoint_error"
    assert models.calls("billing") == 1


async def test_a_slow_endpoint_times_out_after_each_attempt() -> None:
    models = ScriptedModels(billing=[Slow(2.0, say("late")), Slow(2.0, say("late again"))])
    started = asyncio.get_running_loop().time()
    with pytest.raises(LLMUnavailable) as failed:
        await ask(LLMGuard(llm_config()), models)
    assert failed.value.reason == "endpoint_unavailable"
    assert models.calls("billing") == 2
    assert asyncio.get_running_loop().time() - started < 1.5  # two 0.5 s deadlines and a short backoff


async def test_the_breaker_opens_after_repeated_failures_and_lets_a_probe_through_later() -> None:
    guard = LLMGuard(llm_config())
    failing = ScriptedModels(billing=[server_error()] * 4)
    for _ in range(2):  # threshold 2: two failed calls (each retried once) open it
        with pytest.raises(LLMUnavailable):
            await ask(guard, failing)
    calls_before = failing.calls("billing")
    with pytest.raises(LLMUnavailable) as refused:
        await ask(guard, failing)
    assert refused.value.reason == "circuit_open"
    assert failing.calls("billing") == calls_before  # refused without asking the endpoint
    assert await guard.breaker_state("billing") == "opened"
    await asyncio.sleep(0.25)  # past the reset time: one probe is let through, and it succeeds
    assert await ask(guard, ScriptedModels(billing=[say("back")])) == "back"
    assert await guard.breaker_state("billing") == "closed"


async def test_budgets_refuse_calls_before_they_are_made() -> None:
    models = ScriptedModels(billing=[say("one"), say("two")])
    guard = LLMGuard(llm_config(budgets=Budgets(tokens_per_conversation=200, tokens_per_day=10_000)))
    with pytest.raises(LLMUnavailable) as spent:
        await ask(guard, models, UsageMeter(conversation_tokens=200))
    assert spent.value.reason == "budget_conversation"

    day = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    now = [day]
    guard = LLMGuard(llm_config(budgets=Budgets(tokens_per_day=150)), clock=lambda: now[0])
    await ask(guard, models)
    with pytest.raises(LLMUnavailable) as daily:
        await ask(guard, models)
    assert daily.value.reason == "budget_day"
    now[0] = day + timedelta(minutes=2)  # a new UTC day starts a new count
    assert await ask(guard, models) == "two"

    guard = LLMGuard(llm_config(budgets=Budgets(cost_per_day=0.0001, input_price_per_million=1000.0)))
    await ask(guard, ScriptedModels(billing=[say("costly")]))
    with pytest.raises(LLMUnavailable) as costly:
        await ask(guard, ScriptedModels(billing=[say("refused")]))
    assert costly.value.reason == "budget_cost"


class Answer(BaseModel):
    answer: str
    score: int


async def test_structured_output_is_retried_once_when_invalid_then_given_up() -> None:
    guard = LLMGuard(llm_config())
    models = ScriptedModels(triage=[say("not json"), as_json(answer="ok", score=3)])
    meter = UsageMeter(0)
    model = models.chat_model("triage")
    parsed = await structured_call(guard, "triage", meter, model, Answer, [HumanMessage("q")])
    assert parsed == Answer(answer="ok", score=3)
    retry_prompt = models.models["triage"].prompts[1]
    assert "did not match the schema" in str(retry_prompt[-1].content)

    models = ScriptedModels(triage=[as_json(answer="no score"), say("{broken")])
    meter = UsageMeter(0)
    model = models.chat_model("triage")
    parsed = await structured_call(guard, "triage", meter, model, Answer, [HumanMessage("q")])
    assert parsed is None
    assert meter.fallbacks == ["invalid_output"] and meter.calls == 2


def test_the_structured_output_method_follows_the_endpoint_unless_set() -> None:
    assert resolve_method(Endpoint(model="gpt")) == "json_schema"
    assert resolve_method(Endpoint(model="qwen", base_url="http://127.0.0.1:8081/v1")) == "json_mode"
    local_tools = Endpoint(
        model="qwen", base_url="http://127.0.0.1:8081/v1", structured_method="function_calling"
    )
    assert resolve_method(local_tools) == "function_calling"
