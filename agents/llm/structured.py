"""Structured output by whichever method the endpoint supports, retried once, then given up on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Literal, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from agents.llm.config import AgentName, Endpoint
from agents.llm.guard import LLMGuard
from agents.llm.usage import UsageMeter

Schema = TypeVar("Schema", bound=BaseModel)
ConcreteMethod = Literal["json_schema", "json_mode", "function_calling"]


def resolve_method(endpoint: Endpoint) -> ConcreteMethod:
    """`json_schema` where it is known to work (OpenAI); `json_mode`, which llama.cpp, vLLM and Ollama
    all accept, elsewhere. An explicit setting always wins."""
    if endpoint.structured_method != "auto":
        return endpoint.structured_method
    return "json_schema" if endpoint.is_openai else "json_mode"


def schema_instructions(schema: type[BaseModel]) -> str:
    """The JSON shape spelled out, because json_mode constrains the syntax but not the keys."""
    return "Reply with one JSON object and nothing else. Its JSON schema:\n" + json.dumps(
        schema.model_json_schema(), separators=(",", ":")
    )


async def structured_call(
    guard: LLMGuard,
    agent: AgentName,
    meter: UsageMeter,
    model: BaseChatModel,
    schema: type[Schema],
    messages: Sequence[AnyMessage],
) -> Schema | None:
    """The model's answer as `schema`; one retry with the error shown; None when it still does not fit.

    Raises LLMUnavailable when the model cannot be asked (budget, breaker, endpoint down).
    """
    method = resolve_method(guard.config.endpoint(agent))
    runnable = model.with_structured_output(schema, method=method, include_raw=True)
    prompt = _with_instructions(list(messages), schema_instructions(schema))
    for _ in range(2):
        result = await guard.call(agent, meter, partial(runnable.ainvoke, prompt))
        parsed = result.get("parsed") if isinstance(result, dict) else None
        if isinstance(parsed, schema):
            return parsed
        error = result.get("parsing_error") if isinstance(result, dict) else None
        prompt = [
            *prompt,
            HumanMessage(
                content=f"That reply did not match the schema ({str(error)[:300]}). "
                "Reply again with only the JSON object."
            ),
        ]
    meter.fallbacks.append("invalid_output")
    return None


def _with_instructions(messages: list[AnyMessage], instructions: str) -> list[AnyMessage]:
    """The instructions appended to the leading system message; some chat templates allow only one."""
    if messages and isinstance(messages[0], SystemMessage):
        return [SystemMessage(content=f"{messages[0].content}\n\n{instructions}"), *messages[1:]]
    return [SystemMessage(content=instructions), *messages]
