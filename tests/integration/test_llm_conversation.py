"""Whole LLM-mode conversations through the graph against the real llama.cpp server.

The model is small (Qwen2.5-Coder 0.5B) and answers at temperature 0, so its choices are repeatable on
one machine; the assertions hold for any answer that follows the path, not for particular wording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.types import Command

from agents.llm.runtime import LLMRuntime
from agents.specialists.tools import SENSITIVE_TOOLS
from app.service import open_llm
from app.settings import Settings
from app.store.portfolio import FREE_ID, VIP_ID
from app.store.store import AppStore
from graph.builder import RouterGraph
from graph.context import Context

# One event loop for the module: langchain-openai caches its HTTP client, bound to the first loop.
pytestmark = [pytest.mark.llm, pytest.mark.asyncio(loop_scope="module")]

# With these messages the model plans an MFA reset (a proposal) and invoice lookups respectively.
LOCKED_OUT = "How do I reset my password?"
INVOICES = "Do I have any unpaid invoices? Please list them."


@pytest.fixture
def runtime(llm_server: str) -> LLMRuntime:
    """LLM mode as `make run-llm` configures it: function calling for structured output, planned tools."""
    settings = Settings(
        llm_model="qwen",
        llm_base_url=llm_server,
        llm_structured_method="function_calling",
        llm_timeout_seconds=120,
        llm_max_attempts=1,
    )
    llm = open_llm(settings)
    assert llm is not None and llm.config.default.tool_mode == "planned"
    return llm


@pytest.fixture
def context_for(
    make_context: Callable[..., Context], runtime: LLMRuntime, demo_store: AppStore
) -> Callable[[str], Context]:
    def make(customer_id: str) -> Context:
        context = make_context(customer_id=customer_id, llm=runtime, business=demo_store.business)
        return dataclasses.replace(context, customers=demo_store.customers)

    return make


def thread(name: str) -> Any:
    return {"configurable": {"thread_id": name}}


async def test_a_proposed_action_waits_for_approval_runs_once_and_the_answer_cites_its_articles(
    graph: RouterGraph, context_for: Callable[[str], Context], demo_store: AppStore
) -> None:
    context = context_for(FREE_ID)
    first = await graph.ainvoke({"text": LOCKED_OUT}, thread("locked"), context=context)

    assert first["classification"]["category"] == "account_access"
    assert first["llm_usage"]["calls"] >= 2 and first["llm_usage"]["input_tokens"] > 0  # plan and answer
    assert any(use["ok"] for use in first["tool_uses"]), first["tool_uses"]
    handoff = first["__interrupt__"][0].value
    action = handoff["proposed_action"]
    assert action is not None and action["name"] in SENSITIVE_TOOLS and action["customer_id"] == FREE_ID
    assert handoff["reason"] == "action_needs_approval"
    assert await demo_store.business.executed_actions() == []  # nothing runs before a person approves

    waiting = await graph.aget_state(thread("locked"))
    approve = Command(resume={"action": "approve", "reviewer": "ana"})
    done = await graph.ainvoke(approve, thread("locked"), context=context)
    outcome = done["outcomes"][-1]
    assert outcome["action_result"]["status"] == "executed"
    assert outcome["action_result"]["reference"] in outcome["response"]
    retrieved = {p["article_id"] for p in first["retrieved"]}
    assert outcome["citations"] and {c["article_id"] for c in outcome["citations"]} <= retrieved

    # The resume runs again from the same checkpoint (as after a crash): the action is not repeated.
    again = await graph.ainvoke(approve, waiting.config, context=context)
    assert again["outcomes"][-1]["action_result"]["reference"] == outcome["action_result"]["reference"]
    assert len(await demo_store.business.executed_actions()) == 1


async def test_a_lookup_answer_goes_out_grounded_and_a_follow_up_stays_with_the_specialist(
    graph: RouterGraph, context_for: Callable[[str], Context]
) -> None:
    context = context_for(VIP_ID)
    first = await graph.ainvoke({"text": INVOICES}, thread("invoices"), context=context)
    outcome = first["outcomes"][-1]
    assert outcome["specialist"] == "billing" and outcome["decided_by"] in {"local_classifier", "llm"}
    assert {u["name"] for u in outcome["tool_uses"] if u["ok"]} & {"list_invoices", "list_charges"}
    assert outcome["status"] == "answered"  # so it passed the answer check
    assert outcome["response"].strip() and outcome["citations"]
    second = await graph.ainvoke({"text": "And how do I download them?"}, thread("invoices"), context=context)
    assert second["outcomes"][-1]["follow_up"] and second["outcomes"][-1]["specialist"] == "billing"
