"""An LLM specialist: plans with its own tools, then writes an answer from the articles it was given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from typing_extensions import TypedDict

from agents.llm.runtime import LLMRuntime
from agents.llm.usage import UsageMeter
from agents.specialists.extractive import Draft, RetrievedPassage, unique_citations, with_sources
from agents.specialists.grounding import check_answer
from agents.specialists.routing import Specialist
from agents.specialists.tools import SENSITIVE_TOOLS, tools_for
from agents.tools.business import BusinessData, ProposedAction
from prompts import agents as agent_prompts
from prompts import fences

HISTORY_MESSAGES = 6


class ToolUse(TypedDict):
    """One tool call the agent made, for the audit and the reviewer."""

    name: str
    arguments: dict[str, Any]
    ok: bool


@dataclass
class AgentAnswer:
    """What the specialist produced this turn."""

    draft: Draft | None
    tool_uses: list[ToolUse] = field(default_factory=list)
    proposed_action: ProposedAction | None = None
    problems: list[str] = field(default_factory=list)
    """Why the draft may not go out without a person (empty when it may)."""


def system_prompt(name: Specialist, tools: Sequence[BaseTool]) -> str:
    """The specialist's instructions, naming the actions it may only propose."""
    proposals = sorted(t.name for t in tools if t.name in SENSITIVE_TOOLS)
    actions = (
        agent_prompts.ACTIONS.format(names=", ".join(proposals)) if proposals else agent_prompts.NO_ACTIONS
    )
    rules = agent_prompts.RULES.format(actions=actions, untrusted_note=fences.UNTRUSTED_NOTE)
    return agent_prompts.SYSTEM.format(role=agent_prompts.ROLES[name], rules=rules)


def turn_message(
    llm: LLMRuntime, text: str, history: Sequence[str], passages: Sequence[RetrievedPassage]
) -> str:
    """The articles, the recent transcript and the message, each fenced, personal data redacted."""
    redact = llm.redactor.redact
    articles = "\n".join(
        fences.fence("article", p["text"], number=str(i), title=p["title"], url=p["url"])
        for i, p in enumerate(passages, start=1)
    )
    recent = "\n".join(redact(line) for line in history[-HISTORY_MESSAGES:])
    return agent_prompts.TURN.format(
        articles=articles or "none found",
        history=fences.fence("history", recent) if recent else "none",
        message=fences.fence("customer-message", redact(text)),
    )


async def run_specialist(
    llm: LLMRuntime,
    meter: UsageMeter,
    name: Specialist,
    customer_id: str | None,
    business: BusinessData | None,
    text: str,
    history: Sequence[str],
    passages: Sequence[RetrievedPassage],
) -> AgentAnswer:
    """Call tools until the model answers (at most `max_agent_steps` calls), then check the answer.

    Raises LLMUnavailable when the model cannot be asked; the caller degrades.
    """
    tools = tools_for(name, business, customer_id)
    prompt = system_prompt(name, tools)
    messages: list[AnyMessage] = [
        SystemMessage(content=prompt),
        HumanMessage(content=turn_message(llm, text, history, passages)),
    ]
    model = llm.models.chat_model(name)
    by_name = {t.name: t for t in tools}
    answer = AgentAnswer(draft=None)
    tool_results: list[str] = []
    reply: AIMessage | None = None
    for step in range(llm.config.max_agent_steps):
        # The last call offers no tools, so the loop always ends with an answer.
        last = step == llm.config.max_agent_steps - 1 or answer.proposed_action is not None
        bound = model if last or not tools else model.bind_tools(tools)
        reply = await llm.guard.call(name, meter, partial(_ask, bound, messages))
        messages.append(reply)
        if last or not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = await _run_tool(by_name, call, customer_id, answer)
            if answer.tool_uses[-1]["ok"] and call["name"] not in SENSITIVE_TOOLS:
                tool_results.append(result)
            messages.append(
                ToolMessage(content=llm.redactor.redact(result), tool_call_id=call["id"] or call["name"])
            )
    text_out = str(reply.content).strip() if reply is not None else ""
    check = check_answer(text_out, passages, tool_results, prompt)
    answer.problems = check.problems
    answer.draft = _draft(text_out, check.cited)
    return answer


async def _ask(model: Runnable[list[AnyMessage], BaseMessage], messages: list[AnyMessage]) -> AIMessage:
    reply = await model.ainvoke(list(messages))
    if not isinstance(reply, AIMessage):
        raise TypeError(f"the chat model answered with {type(reply).__name__}, not an AIMessage")
    return reply


async def _run_tool(
    tools: dict[str, BaseTool], call: ToolCall, customer_id: str | None, answer: AgentAnswer
) -> str:
    """Run a lookup, or record a proposed action; an unknown tool or bad arguments is the model's error."""
    name, arguments = call["name"], dict(call["args"])
    tool = tools.get(name)
    if tool is None:
        answer.tool_uses.append(ToolUse(name=name, arguments=arguments, ok=False))
        return f"There is no tool called {name}."
    result = str(await tool.ainvoke(arguments))
    # handle_validation_error turns bad arguments into this text for the model to correct.
    ok = "validation error" not in result[:80]
    answer.tool_uses.append(ToolUse(name=name, arguments=arguments, ok=ok))
    if ok and name in SENSITIVE_TOOLS and customer_id is not None and answer.proposed_action is None:
        answer.proposed_action = ProposedAction(name=name, customer_id=customer_id, arguments=arguments)  # type: ignore[typeddict-item]
    return result


def _draft(text: str, cited: Sequence[RetrievedPassage]) -> Draft | None:
    """The answer with the cited articles listed under it, as the offline answers list theirs."""
    if not text:
        return None
    citations = unique_citations(cited)
    if citations:
        text = with_sources(text, citations)
    return Draft(text=text, citations=citations, passage_ids=[p["passage_id"] for p in cited])
