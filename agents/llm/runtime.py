"""What LLM mode adds to a run: the config, the model factory, the shared guard and the redactor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agents.llm.config import LLMConfig
from agents.llm.factory import ModelFactory, OpenAICompatibleFactory
from agents.llm.guard import LLMGuard


class Redactor(Protocol):
    """Removes personal data from text before it leaves the process."""

    def redact(self, text: str) -> str:
        """`text` with every piece of personal data replaced by a typed placeholder."""
        ...


@dataclass(frozen=True)
class LLMRuntime:
    """Made once per process; None in the context means offline mode."""

    config: LLMConfig
    models: ModelFactory
    guard: LLMGuard
    redactor: Redactor

    @classmethod
    def open(cls, config: LLMConfig, redactor: Redactor, models: ModelFactory | None = None) -> LLMRuntime:
        """The runtime with ChatOpenAI models, unless a factory (a test's fakes) is given."""
        return cls(
            config=config,
            models=models or OpenAICompatibleFactory(config),
            guard=LLMGuard(config),
            redactor=redactor,
        )
