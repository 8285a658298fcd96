"""Hybrid triage: the local classifier decides confident tickets, the triage model adjudicates the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_fakes import ScriptedModels, as_json, llm_runtime, say

from agents.llm.config import Budgets
from agents.llm.usage import UsageMeter
from agents.triage.adjudicator import TriageVerdict, adjudication_triggers, merge_verdict
from agents.triage.classifier import Classification
from graph.builder import RouterGraph
from graph.context import Context

UNSURE = "why is my bank account stopping all transactions from going through"
"""The local classifier says billing, at about 0.36."""
ContextFactory = Callable[..., Context]


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def local(category: str = "billing", confidence: float = 0.9) -> Classification:
    probabilities = {c: 0.0 for c in ("billing", "account_access", "technical", "refund", "other")}
    probabilities[category] = confidence
    return Classification(  # type: ignore[typeddict-item]
        category=category,
        confidence=confidence,
        probabilities=probabilities,
        secondary_intents=[],
        risk_signals=[],
        model_version="head-test",
        decided_by="local_classifier",
    )


def test_only_unsure_overlapping_or_conflicting_tickets_go_to_the_model() -> None:
    assert adjudication_triggers(local(confidence=0.95), 0.6) == []
    assert adjudication_triggers(local(confidence=0.5), 0.6) == ["low_confidence"]
    overlapping = local(confidence=0.62)
    overlapping["probabilities"]["refund"] = 0.55
    assert adjudication_triggers(overlapping, 0.6) == ["overlapping_intents"]
    conflicting = local("technical", 0.9)
    conflicting["risk_signals"] = ["refund_request"]
    assert adjudication_triggers(conflicting, 0.6) == ["ambiguous_risk_signal"]


def test_the_model_cannot_remove_a_risk_signal_the_patterns_found() -> None:
    found = local("billing", 0.4)
    found["risk_signals"] = ["legal_threat"]
    verdict = TriageVerdict(category="refund", confidence=0.8, risk_signals=["refund_request"], reason="r")
    merged = merge_verdict(found, verdict, ["low_confidence"], "m")
    assert merged["risk_signals"] == ["legal_threat", "refund_request"]
    assert merged["category"] == "refund" and merged["decided_by"] == "llm"
    assert merged["adjudication"]["local_category"] == "billing"


async def test_a_confident_ticket_makes_no_triage_call(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    models = ScriptedModels(access=[say("Tap Forgot password on the sign-in screen [1].")])
    result = await graph.ainvoke(
        {"text": "I forgot my password and can't sign in"},
        config("t"),
        context=make_context(llm=llm_runtime(models)),
    )
    outcome = result["outcomes"][-1]
    assert models.calls("triage") == 0
    assert outcome["decided_by"] == "local_classifier"
    assert outcome["llm"]["calls"] == 1  # the access specialist's answer


async def test_an_unsure_ticket_is_adjudicated_and_the_reason_recorded(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    verdict = as_json(
        category="account_access", confidence=0.8, secondary_intents=[], risk_signals=[],
        reason="Blocked account rather than a charge.",
    )  # fmt: skip
    models = ScriptedModels(triage=[verdict], access=[say("A blocked account is explained here [1].")])
    result = await graph.ainvoke({"text": UNSURE}, config("t"), context=make_context(llm=llm_runtime(models)))
    outcome = result["outcomes"][-1]
    classification = result["classification"]
    assert outcome["decided_by"] == "llm" and outcome["category"] == "account_access"
    assert classification["adjudication"]["triggers"][0] == "low_confidence"
    assert classification["adjudication"]["reason"] == "Blocked account rather than a charge."
    assert outcome["specialist"] == "access"
    assert outcome["llm"]["calls"] == 2
    prompt = str(models.models["triage"].prompts[0][-1].content)
    assert "<untrusted-customer-message>" in prompt and UNSURE in prompt


async def test_invalid_triage_output_falls_back_to_the_local_classifier(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    models = ScriptedModels(
        triage=[say("I think billing?"), as_json(category="billing")],
        billing=[say("Our billing articles explain this [2].")],
    )
    result = await graph.ainvoke({"text": UNSURE}, config("t"), context=make_context(llm=llm_runtime(models)))
    assert result["classification"]["decided_by"] == "local_classifier"
    assert result["classification"]["category"] == "billing"
    assert "invalid_output" in result["llm_usage"]["fallbacks"]
    assert models.calls("triage") == 2
    # Still unsure, so the default policy has a person approve the specialist's draft.
    handoff = result["__interrupt__"][0].value
    assert handoff["reason"] == "low_confidence"
    assert handoff["draft"]["citations"][0]["article_id"] == "billing-unrecognised-charge"


async def test_a_spent_conversation_budget_degrades_the_next_turn_to_offline(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    models = ScriptedModels(access=[say("Tap Forgot password on the sign-in screen [1].")])
    context = make_context(llm=llm_runtime(models, budgets=Budgets(tokens_per_conversation=100)))
    first = await graph.ainvoke(
        {"text": "I forgot my password and can't sign in"}, config("t"), context=context
    )
    assert first["llm_tokens"] == 150
    second = await graph.ainvoke(
        {"text": "How much does the Premium plan cost per month?"}, config("t"), context=context
    )
    outcome = second["outcomes"][-1]
    assert models.calls("billing") == 0
    assert outcome["llm"]["fallbacks"] == ["budget_conversation"]
    assert outcome["status"] == "answered" and outcome["citations"]  # the offline answer
    assert outcome["citations"][0]["article_id"].startswith("billing-")


def test_the_meter_adds_node_usage_to_the_turn() -> None:
    meter = UsageMeter(conversation_tokens=0, calls=1, input_tokens=10, output_tokens=5, fallbacks=["x"])
    total = meter.add_to(meter.add_to(None))
    assert total["calls"] == 2 and total["input_tokens"] == 20 and total["fallbacks"] == ["x"]
