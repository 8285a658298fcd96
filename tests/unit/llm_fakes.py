"""Scripted chat models for LLM-mode tests, handed to the graph through the model factory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from pydantic import BaseModel, Field

from agents.llm.config import AgentName, Endpoint, LLMConfig, Resilience
from agents.llm.runtime import LLMRuntime
from agents.safety.pii import default_redactor

USAGE = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}


@dataclass(frozen=True)
class Slow:
    """A reply that arrives after `seconds`."""

    seconds: float
    reply: AIMessage


Step = AIMessage | Exception | Slow | Callable[[Sequence[BaseMessage]], AIMessage]


def say(text: str) -> AIMessage:
    """A plain answer."""
    return AIMessage(content=text, usage_metadata=USAGE)  # type: ignore[arg-type]


def as_json(**fields: Any) -> AIMessage:
    """A JSON answer, as json_mode returns one."""
    return say(json.dumps(fields))


def call(tool: str, call_id: str = "call-1", **arguments: Any) -> AIMessage:
    """A tool call."""
    return AIMessage(
        content="",
        tool_calls=[{"name": tool, "args": arguments, "id": call_id, "type": "tool_call"}],
        usage_metadata=USAGE,  # type: ignore[arg-type]
    )


class ScriptedChatModel(GenericFakeChatModel):
    """Plays its script one step per call; records every prompt it was sent and the tools bound."""

    script: list[Any] = Field(default_factory=list)
    """Steps: an AIMessage, an exception to raise, a Slow reply, or a function of the prompt."""
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[list[str]] = Field(default_factory=list)
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))

    def _next(self, messages: list[BaseMessage]) -> Step:
        self.prompts.append(list(messages))
        if not self.script:
            raise AssertionError(f"the script ran out; the model was sent: {messages[-1].content!r}")
        return self.script.pop(0)

    @staticmethod
    def _result(step: Step, messages: list[BaseMessage]) -> ChatResult:
        if isinstance(step, Exception):
            raise step
        reply = step(messages) if callable(step) else step
        assert isinstance(reply, AIMessage)
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self._next(messages)
        return self._result(step.reply if isinstance(step, Slow) else step, messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self._next(messages)
        if isinstance(step, Slow):
            await asyncio.sleep(step.seconds)
            step = step.reply
        return self._result(step, messages)

    def with_structured_output(  # type: ignore[override]
        self,
        schema: type[BaseModel],
        *,
        method: str = "function_calling",
        include_raw: bool = False,
        **kw: Any,
    ) -> Runnable[Any, Any]:
        """json_mode as ChatOpenAI does it (the base class knows only tool calling); else the base class."""
        if method != "json_mode":
            return super().with_structured_output(schema, include_raw=include_raw, **kw)
        parser = PydanticOutputParser(pydantic_object=schema)
        if not include_raw:
            return self | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        failed = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=self) | parsed.with_fallbacks([failed], exception_key="parsing_error")

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, BaseMessage]:
        self.bound_tools.append([getattr(t, "name", str(t)) for t in tools])
        return self


class ScriptedModels:
    """A model factory with one scripted model per agent."""

    def __init__(self, **scripts: list[Step]) -> None:
        self.models = {agent: ScriptedChatModel(script=list(steps)) for agent, steps in scripts.items()}

    def chat_model(self, agent: AgentName) -> BaseChatModel:
        if agent not in self.models:
            self.models[agent] = ScriptedChatModel(script=[])
        return self.models[agent]

    def calls(self, agent: str) -> int:
        model = self.models.get(agent)
        return len(model.prompts) if model else 0


def llm_config(**overrides: Any) -> LLMConfig:
    """LLM mode with json_mode structured output, short timeouts and a breaker that opens quickly."""
    defaults: dict[str, Any] = {
        "default": Endpoint(model="scripted", base_url="http://127.0.0.1:9/v1", structured_method="json_mode",
                            tool_calling="native",
                            timeout_seconds=0.5),
        "resilience": Resilience(max_attempts=2, backoff_seconds=0.01, breaker_threshold=2,
                                 breaker_reset_seconds=0.2),
    }  # fmt: skip
    return LLMConfig(**(defaults | overrides))


def llm_runtime(models: ScriptedModels, **config: Any) -> LLMRuntime:
    return LLMRuntime.open(llm_config(**config), default_redactor(), models)
