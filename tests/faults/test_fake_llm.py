"""The fake OpenAI-compatible server answers as langchain-openai expects, and fails as it is told to."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import openai
import pytest
from fake_llm import FakeLLM, error, garbage, json_reply, text, tool_calls
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field


class Verdict(BaseModel):
    """A structured answer."""

    domain: str = Field(description="where the ticket goes")
    confidence: float


@tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    return order_id


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def chat(llm: FakeLLM, timeout: float = 10) -> ChatOpenAI:
    return ChatOpenAI(model="fake", base_url=llm.base_url, api_key="x", max_retries=0, timeout=timeout)


async def test_scripted_replies_come_back_in_order_as_text_json_and_tool_calls(llm: FakeLLM) -> None:
    llm.push(
        text("Hello there"),
        json_reply({"domain": "billing", "confidence": 0.9}),
        tool_calls(("Verdict", {"domain": "access", "confidence": 0.5})),
        tool_calls(("lookup_order", {"order_id": "o-1"})),
    )
    model = chat(llm)
    reply = await model.ainvoke("hi")
    assert (
        reply.content == "Hello there"
        and reply.usage_metadata
        and reply.usage_metadata["total_tokens"] == 150
    )
    json_mode = await model.with_structured_output(Verdict, method="json_mode").ainvoke("classify")
    assert json_mode == Verdict(domain="billing", confidence=0.9)
    calling = await model.with_structured_output(Verdict, method="function_calling").ainvoke("classify")
    assert calling == Verdict(domain="access", confidence=0.5)
    called = await model.bind_tools([lookup_order]).ainvoke("where is o-1")
    assert [(c["name"], c["args"]) for c in called.tool_calls] == [("lookup_order", {"order_id": "o-1"})]
    assert llm.requests[1]["response_format"] == {"type": "json_object"}
    assert llm.requests[3]["tools"][0]["function"]["name"] == "lookup_order"
    assert [m["content"] for m in llm.requests[0]["messages"]] == ["hi"]


async def test_a_stream_carries_the_same_reply(llm: FakeLLM) -> None:
    llm.push(text("streamed answer"), tool_calls(("lookup_order", {"order_id": "o-2"})))
    model = chat(llm)
    chunks = [chunk async for chunk in model.astream([HumanMessage("hi")])]
    assert "".join(str(c.content) for c in chunks) == "streamed answer"
    merged = None
    async for chunk in model.bind_tools([lookup_order]).astream("where is o-2"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.tool_calls[0]["args"] == {"order_id": "o-2"}


async def test_errors_garbage_and_an_empty_script_reach_the_client(llm: FakeLLM) -> None:
    llm.push(error(500), error(429, retry_after=1), garbage("{not json"), garbage('{"result": "ok"}'))
    model = chat(llm)
    with pytest.raises(openai.InternalServerError):
        await model.ainvoke("a")
    with pytest.raises(openai.RateLimitError):
        await model.ainvoke("b")
    with pytest.raises(ValueError):  # json.JSONDecodeError: the body is not JSON
        await model.ainvoke("c")
    with pytest.raises(TypeError, match="choices"):  # JSON, but not a chat completion
        await model.ainvoke("d")
    with pytest.raises(openai.InternalServerError, match="script is empty"):
        await model.ainvoke("e")
    llm.always(text("fallback"))
    assert (await model.ainvoke("f")).content == "fallback"
    assert len(llm.requests) == 6


async def test_a_delayed_step_outlasts_a_short_client_timeout(llm: FakeLLM) -> None:
    llm.push(text("too late").after(2), text("on time"))
    with pytest.raises(openai.APITimeoutError):
        await chat(llm, timeout=0.3).ainvoke("slow")
    assert (await chat(llm).ainvoke("fast")).content == "on time"


async def test_a_held_request_waits_until_released(llm: FakeLLM) -> None:
    llm.push(text("released"))
    gate = llm.hold_next()
    call = asyncio.create_task(chat(llm).ainvoke("hold me"))
    assert await asyncio.to_thread(gate.wait_until_held, 10)
    await asyncio.sleep(0.2)
    assert not call.done() and gate.request is not None
    gate.release()
    assert (await asyncio.wait_for(call, 10)).content == "released"


def test_a_stopped_fake_refuses_connections_and_serves_again_on_the_same_port(llm: FakeLLM) -> None:
    model = chat(llm, timeout=2)
    llm.stop()
    with pytest.raises(openai.APIConnectionError):
        model.invoke("down")
    llm.start()
    llm.push(text("back"))
    assert model.invoke("up").content == "back"


def test_stop_releases_a_held_request(llm: FakeLLM) -> None:
    gate = llm.hold_next()
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            chat(llm, timeout=10).invoke("held")
        except BaseException as failure:  # the connection ends when the server stops
            outcome.append(failure)

    caller = threading.Thread(target=ask)
    caller.start()
    assert gate.wait_until_held(10)
    llm.stop()
    caller.join(15)
    assert not caller.is_alive()
