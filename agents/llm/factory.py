"""The one place chat models are made; tests swap in scripted fakes through the same interface."""

from __future__ import annotations

from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from agents.llm.config import AgentName, LLMConfig


class ModelFactory(Protocol):
    """Hands each agent its chat model."""

    def chat_model(self, agent: AgentName) -> BaseChatModel:
        """The model `agent` talks to."""
        ...


class OpenAICompatibleFactory:
    """`ChatOpenAI` per endpoint, made once and shared by every turn of the process."""

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self._models: dict[str, BaseChatModel] = {}

    def chat_model(self, agent: AgentName) -> BaseChatModel:
        endpoint = self._config.endpoint(agent)
        model = self._models.get(endpoint.name)
        if model is None:
            # Retries are ours (transient errors only, backoff, under the breaker), not the client's.
            model = ChatOpenAI(
                model=endpoint.model,
                base_url=endpoint.base_url,
                api_key=endpoint.api_key,
                timeout=endpoint.timeout_seconds,
                max_retries=0,
                temperature=0,
            )
            self._models[endpoint.name] = model
        return model
