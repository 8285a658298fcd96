"""An LLM specialist: plans with its own tools, then writes an answer from the articles it was given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

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
from pydantic import BaseModel, Field, ValidationError, create_model
from typing_extensions import TypedDict

from agents.llm.runtime import LLMRuntime
from agents.llm.structured import structured_call
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
    turn_key: str,
) -> AgentAnswer:
    """Call tools (natively or by a plan, as the endpoint is configured), answer, then check the answer.

    `turn_key` names the conversation's turn: a tool with an effect has it once per turn.
    Raises LLMUnavailable when the model cannot be asked; the caller degrades.
    """
    tools = tools_for(name, business, customer_id, turn_key)
    prompt = system_prompt(name, tools)
    opening: list[AnyMessage] = [
        SystemMessage(content=prompt),
        HumanMessage(content=turn_message(llm, text, history, passages)),
    ]
    session = _ToolSession(llm, {t.name: t for t in tools}, customer_id)
    if llm.config.endpoint(name).tool_mode == "planned":
        text_out = await _planned(session, meter, name, opening)
    else:
        text_out = await _native(session, meter, name, opening)
    check = check_answer(text_out, passages, session.results, prompt)
    answer = session.answer
    answer.problems = check.problems
    answer.draft = _draft(text_out, check.cited)
    return answer


@dataclass
class _ToolSession:
    """The tools of one turn, what they returned, and what the agent proposed."""

    llm: LLMRuntime
    tools: dict[str, BaseTool]
    customer_id: str | None
    answer: AgentAnswer = field(default_factory=lambda: AgentAnswer(draft=None))
    results: list[str] = field(default_factory=list)
    """Successful lookups' results: what an answer may state besides the articles."""

    async def use(self, call: ToolCall) -> str:
        """Run one call; the result, redacted, as the model may read it."""
        result = await _run_tool(self.tools, call, self.customer_id, self.answer)
        if self.answer.tool_uses[-1]["ok"] and call["name"] not in SENSITIVE_TOOLS:
            self.results.append(result)
        return self.llm.redactor.redact(result)


async def _native(
    session: _ToolSession, meter: UsageMeter, name: Specialist, opening: list[AnyMessage]
) -> str:
    """The model calls tools itself until it answers, within `max_agent_steps` calls."""
    llm, tools = session.llm, list(session.tools.values())
    model = llm.models.chat_model(name)
    messages = list(opening)
    reply: AIMessage | None = None
    for step in range(llm.config.max_agent_steps):
        # The last call offers no tools, so the loop always ends with an answer.
        last = step == llm.config.max_agent_steps - 1 or session.answer.proposed_action is not None
        bound = model if last or not tools else model.bind_tools(tools)
        reply = await llm.guard.call(name, meter, partial(_ask, bound, messages))
        messages.append(reply)
        if last or not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = await session.use(call)
            messages.append(ToolMessage(content=result, tool_call_id=call["id"] or call["name"]))
    return str(reply.content).strip() if reply is not None else ""


async def _planned(
    session: _ToolSession, meter: UsageMeter, name: Specialist, opening: list[AnyMessage]
) -> str:
    """One structured reply lists the calls, they run, then one more call writes the answer."""
    llm = session.llm
    model = llm.models.chat_model(name)
    follow_up = agent_prompts.NO_TOOLS_CALLED
    if session.tools:
        max_calls = max(1, llm.config.max_agent_steps - 1)
        request = HumanMessage(content=plan_request(list(session.tools.values()), max_calls))
        plan = await structured_call(
            llm.guard, name, meter, model, plan_schema(list(session.tools), max_calls), [*opening, request]
        )
        results = []
        for number, planned in enumerate(plan.calls[:max_calls] if plan else []):
            call = ToolCall(name=planned.tool, args=planned.arguments, id=f"plan-{number}")
            results.append(fences.fence("tool-result", await session.use(call), tool=planned.tool))
        if results:
            follow_up = agent_prompts.TOOL_RESULTS.format(results="\n".join(results))
    # One user turn: small models answering a second one tend to repeat the first.
    system, turn = opening
    question = HumanMessage(content=f"{turn.content}\n\n{follow_up}")
    reply = await structured_call(llm.guard, name, meter, model, PlannedAnswer, [system, question])
    return reply.with_markers() if reply is not None else ""


def plan_request(tools: Sequence[BaseTool], max_calls: int) -> str:
    """The tools spelled out with their arguments, and the question which to call."""
    listed = "\n".join(
        agent_prompts.PLANNED_TOOL.format(
            name=t.name,
            description=t.description,
            arguments=_arguments(t),
        )
        for t in tools
    )
    return agent_prompts.PLAN.format(tools=listed, max_calls=max_calls)


def _arguments(tool: BaseTool) -> str:
    """`name (type): description` per argument; small models copy a raw JSON schema into their values."""
    described = []
    for name, spec in tool.args.items():
        kind = "one of " + ", ".join(spec["enum"]) if "enum" in spec else spec.get("type", "string")
        described.append(f"{name} ({kind}): {spec.get('description', '')}".strip())
    return "; ".join(described) or "none"


def plan_schema(tool_names: Sequence[str], max_calls: int) -> type[ToolPlan]:
    """A plan whose calls can only name these tools."""
    names: Any = Literal[tuple(tool_names)]
    call: Any = create_model(
        "PlannedCall", __base__=PlannedCall, tool=(names, Field(description="The tool's name."))
    )
    calls: Any = Field(default_factory=list, max_length=max_calls, description=PLAN_CALLS)
    return create_model("ToolPlan", __base__=ToolPlan, calls=(list[call], calls))


PLAN_CALLS = "The tool calls to make, in order; empty when the articles are enough."


class PlannedCall(BaseModel):
    """One tool call of a plan."""

    tool: str = Field(description="The tool's name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="The tool's arguments.")


class PlannedAnswer(BaseModel):
    """The answer of a planned turn; its sources as a field, which small models fill more reliably than
    they follow a citation convention in free text."""

    answer: str = Field(description="The reply to the customer.")
    # Required, so the model must think about its sources; it may still list none.
    articles: list[int] = Field(description="The numbers of the articles the reply is based on.")

    def with_markers(self) -> str:
        """The reply with a [n] marker for each article it names but does not cite in the text."""
        text = self.answer.strip()
        missing = [n for n in dict.fromkeys(self.articles) if f"[{n}]" not in text]
        return f"{text} {''.join(f'[{n}]' for n in missing)}" if text and missing else text


class ToolPlan(BaseModel):
    """Which tools to call before answering."""

    calls: list[PlannedCall] = Field(default_factory=list, description=PLAN_CALLS)


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
    refusal = _argument_error(tool, arguments)
    if refusal is not None:
        answer.tool_uses.append(ToolUse(name=name, arguments=arguments, ok=False))
        return refusal
    result = str(await tool.ainvoke(arguments))
    answer.tool_uses.append(ToolUse(name=name, arguments=arguments, ok=True))
    if name in SENSITIVE_TOOLS and customer_id is not None and answer.proposed_action is None:
        answer.proposed_action = ProposedAction(name=name, customer_id=customer_id, arguments=arguments)  # type: ignore[typeddict-item]
    return result


def _argument_error(tool: BaseTool, arguments: dict[str, Any]) -> str | None:
    """Why the arguments do not fit the tool's schema, or None when they do.

    Checked here because langchain skips validation for a tool without parameters, so an argument the
    schema forbids (a smuggled `customer_id`) would be dropped silently instead of refused.
    """
    schema = tool.args_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return None
    try:
        schema.model_validate(arguments)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "arguments"
        return f"Tool input validation error for {tool.name}: {where}: {first['msg']}"
    return None


def _draft(text: str, cited: Sequence[RetrievedPassage]) -> Draft | None:
    """The answer with the cited articles listed under it, as the offline answers list theirs."""
    if not text:
        return None
    citations = unique_citations(cited)
    if citations:
        text = with_sources(text, citations)
    return Draft(text=text, citations=citations, passage_ids=[p["passage_id"] for p in cited])
