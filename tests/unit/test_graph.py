"""The routing graph end to end on the real offline models: every path, follow-ups, loop guard, reviews."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langgraph.types import Command
from policy_helpers import default_policy_text, policy_set_from
from pydantic import ValidationError

from graph.builder import RouterGraph
from graph.context import Context
from graph.state import State
from knowledge.articles import DEFAULT_ARTICLES_DIR, load_articles

ContextFactory = Callable[..., Context]
ARTICLE_TEXT = {a.id: a.body for a in load_articles(DEFAULT_ARTICLES_DIR)}


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def say(graph: RouterGraph, thread: str, text: str, context: Context) -> dict[str, Any]:
    return await graph.ainvoke({"text": text}, config(thread), context=context)


async def state_of(graph: RouterGraph, thread: str) -> State:
    return State(**(await graph.aget_state(config(thread))).values)


def assert_quotes_articles(response: str, citations: list[dict[str, str]]) -> None:
    """Every paragraph of an offline answer comes from a cited article (framing lines aside)."""
    bodies = [ARTICLE_TEXT[c["article_id"]] for c in citations]
    normalised = [" ".join(body.split()) for body in bodies]
    for paragraph in response.split("\n\n"):
        if paragraph.startswith("Source: "):
            continue
        quoted = paragraph.removeprefix("About your other question: ")
        assert any(quoted in body for body in normalised), paragraph


@pytest.mark.parametrize(
    ("text", "specialist", "article_prefix"),
    [
        ("How much does the Premium plan cost per month?", "billing", "billing-"),
        ("I forgot my password and can't sign in", "access", "access-"),
        ("The app crashes every time I open it on my phone", "technical", "technical-"),
        ("Which countries can I open an account from?", "general", "general-"),
    ],
)
async def test_each_answering_specialist_replies_with_citations(
    graph: RouterGraph, make_context: ContextFactory, text: str, specialist: str, article_prefix: str
) -> None:
    result = await say(graph, "t", text, make_context())
    assert "__interrupt__" not in result
    outcome = result["outcomes"][-1]
    assert outcome["specialist"] == specialist
    assert outcome["status"] == "answered"
    assert not outcome["escalated"]
    assert outcome["citations"], "an answer must cite its article"
    assert all(c["article_id"].startswith(article_prefix) for c in outcome["citations"])
    assert_quotes_articles(outcome["response"], outcome["citations"])
    assert outcome["versions"]["triage_model"].startswith("triage-head-")


async def test_out_of_scope_gets_the_polite_boundary(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    result = await say(graph, "t", "what's the weather like in Paris tomorrow?", make_context())
    outcome = result["outcomes"][-1]
    assert outcome["category"] == "other"
    assert outcome["specialist"] == "general"
    assert not outcome["escalated"]
    assert "Lumora support assistant" in outcome["response"]


async def test_refunds_always_stop_for_a_human_with_a_draft(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    result = await say(
        graph, "t", "My order arrived broken, can I send it back and get a refund?", make_context()
    )
    (pause,) = result["__interrupt__"]
    handoff = pause.value
    assert handoff["classification"]["category"] == "refund"
    assert handoff["draft"] and handoff["draft"]["citations"]
    assert all(c["article_id"].startswith("refunds-") for c in handoff["draft"]["citations"])
    assert (
        handoff["reason"].startswith("risk:refund_request") or handoff["reason"] == "refund_requires_approval"
    )
    assert handoff["transcript"][-1] == {"role": "customer", "text": handoff["text"]}
    snapshot = await graph.aget_state(config("t"))
    assert snapshot.next == ("escalate",)
    assert (await state_of(graph, "t")).outcomes == []  # nothing was sent yet


async def test_low_confidence_escalates(graph: RouterGraph, make_context: ContextFactory) -> None:
    # A threshold above any probability the head gives makes every new issue "unsure".
    unsure = policy_set_from(
        default_policy_text().replace("confidence: {below: 0.5}", "confidence: {below: 1.0}")
    )
    result = await say(graph, "t", "hmm about the thing from before", make_context(policies=unsure))
    (pause,) = result["__interrupt__"]
    assert pause.value["reason"] == "low_confidence"


async def test_risk_signals_escalate_with_the_specialist_draft(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    result = await say(graph, "t", "I was charged twice for the same coffee this morning", make_context())
    (pause,) = result["__interrupt__"]
    assert pause.value["classification"]["category"] == "billing"
    assert pause.value["reason"] == "risk:duplicate_charge"
    assert pause.value["draft"] is not None


async def test_request_for_a_person_goes_straight_to_a_human(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    result = await say(graph, "t", "I want to talk to a real person please", make_context())
    (pause,) = result["__interrupt__"]
    assert "human_request" in pause.value["reason"]
    assert pause.value["draft"] is None
    assert (await state_of(graph, "t")).path == []  # no specialist ran


async def test_multi_intent_answers_both_issues(graph: RouterGraph, make_context: ContextFactory) -> None:
    text = "How much is the Premium plan, and also how do I change my card PIN?"
    outcome = (await say(graph, "t", text, make_context()))["outcomes"][-1]
    assert outcome["category"] == "billing"
    assert "account_access" in outcome["secondary_intents"]
    cited = {c["article_id"] for c in outcome["citations"]}
    assert any(a.startswith("billing-") for a in cited)
    assert "access-change-card-pin" in cited
    assert "About your other question: " in outcome["response"]
    assert_quotes_articles(outcome["response"], outcome["citations"])


async def test_multi_intent_with_a_risk_reaches_a_human(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    text = "I was double charged for my subscription and I also can't log in to my account"
    result = await say(graph, "t", text, make_context())
    (pause,) = result["__interrupt__"]
    classification = pause.value["classification"]
    assert {classification["category"], *classification["secondary_intents"]} >= {"billing", "account_access"}
    assert "duplicate_charge" in classification["risk_signals"]


async def test_follow_up_stays_with_the_specialist_and_says_something_new(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    context = make_context()
    first = (await say(graph, "t", "My card was declined at the supermarket", context))["outcomes"][-1]
    second = (await say(graph, "t", "it still doesn't work", context))["outcomes"][-1]
    assert first["specialist"] == second["specialist"] == "technical"
    assert second["follow_up"] and second["turn"] == 2
    assert second["response"] != first["response"]
    state = await state_of(graph, "t")
    assert [m.type for m in state.messages] == ["human", "ai", "human", "ai"]
    assert state.vector is None  # dropped at the end of every turn


async def test_a_clear_new_issue_changes_specialist(graph: RouterGraph, make_context: ContextFactory) -> None:
    context = make_context()
    await say(graph, "t", "My card was declined at the supermarket", context)
    outcome = (await say(graph, "t", "How do I download the invoice for my Plus plan?", context))["outcomes"][
        -1
    ]
    assert outcome["specialist"] == "billing"
    assert not outcome["follow_up"]


async def test_loop_guard_stops_ping_pong(graph: RouterGraph, make_context: ContextFactory) -> None:
    context = make_context()
    turns = [
        "How much does the Premium plan cost?",
        "I forgot my password and can't log in",
        "How do I download my invoices?",
        "My account is locked after too many attempts",
    ]
    for text in turns[:-1]:
        assert "__interrupt__" not in await say(graph, "t", text, context)
    (pause,) = (await say(graph, "t", turns[-1], context))["__interrupt__"]
    assert pause.value["reason"] == "loop_guard"


async def escalate_refund(graph: RouterGraph, context: Context) -> str:
    result = await say(graph, "t", "I returned the blender two weeks ago and still have no refund", context)
    (pause,) = result["__interrupt__"]
    return str(pause.id)


async def test_reviewer_approves_the_draft(graph: RouterGraph, make_context: ContextFactory) -> None:
    context = make_context()
    pause_id = await escalate_refund(graph, context)
    draft = (await state_of(graph, "t")).draft
    assert draft is not None
    resumed = await graph.ainvoke(
        Command(resume={pause_id: {"action": "approve", "reviewer": "ana"}}), config("t"), context=context
    )
    outcome = resumed["outcomes"][-1]
    assert outcome["response"] == draft["text"]
    assert outcome["escalated"] and outcome["review"] == {"action": "approve", "reviewer": "ana"}
    assert outcome["path"] == ["refunds", "escalate"]
    assert (await graph.aget_state(config("t"))).next == ()


async def test_reviewer_replies_in_their_own_words(graph: RouterGraph, make_context: ContextFactory) -> None:
    context = make_context()
    pause_id = await escalate_refund(graph, context)
    decision = {"action": "reply", "text": "Your refund of EUR 49 was issued today.", "reviewer": "ana"}
    resumed = await graph.ainvoke(Command(resume={pause_id: decision}), config("t"), context=context)
    assert resumed["outcomes"][-1]["response"] == "Your refund of EUR 49 was issued today."
    assert resumed["messages"][-1].content == "Your refund of EUR 49 was issued today."


async def test_reviewer_reroutes_to_another_specialist(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    context = make_context()
    result = await say(graph, "t", "I was charged twice for my Plus subscription", context)
    (pause,) = result["__interrupt__"]
    decision = {"action": "reroute", "target": "billing", "reviewer": "ana"}
    resumed = await graph.ainvoke(Command(resume={pause.id: decision}), config("t"), context=context)
    assert "__interrupt__" not in resumed
    outcome = resumed["outcomes"][-1]
    assert outcome["specialist"] == "billing"
    assert outcome["path"] == ["billing", "escalate", "billing"]
    assert outcome["citations"]


async def test_reviewer_closes_and_a_new_message_reopens(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    context = make_context()
    pause_id = await escalate_refund(graph, context)
    resumed = await graph.ainvoke(
        Command(resume={pause_id: {"action": "close"}}), config("t"), context=context
    )
    assert resumed["outcomes"][-1]["status"] == "closed"
    assert (await state_of(graph, "t")).status == "closed"
    reopened = (await say(graph, "t", "How much does the Premium plan cost?", context))["outcomes"][-1]
    assert reopened["status"] == "answered" and not reopened["follow_up"]


async def test_an_invalid_decision_leaves_the_conversation_waiting(
    graph: RouterGraph, make_context: ContextFactory
) -> None:
    context = make_context()
    pause_id = await escalate_refund(graph, context)
    with pytest.raises(ValidationError, match="a reply needs its text"):
        await graph.ainvoke(Command(resume={pause_id: {"action": "reply"}}), config("t"), context=context)
    snapshot = await graph.aget_state(config("t"))
    assert snapshot.next == ("escalate",)
    assert [i.id for i in snapshot.interrupts] == [pause_id]


async def test_empty_message_is_refused(graph: RouterGraph, make_context: ContextFactory) -> None:
    with pytest.raises(ValueError, match="empty"):
        await say(graph, "t", "   ", make_context())
