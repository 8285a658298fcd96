"""How LLM mode is configured: one endpoint per agent (with a shared default), budgets, resilience."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

AgentName = Literal["triage", "billing", "access", "technical", "refunds", "general"]
AGENTS: tuple[AgentName, ...] = ("triage", "billing", "access", "technical", "refunds", "general")
StructuredMethod = Literal["auto", "json_schema", "json_mode", "function_calling"]
ToolCalling = Literal["auto", "native", "planned"]
"""How a specialist calls tools: `native` binds them and lets the model call them (tool_choice auto);
`planned` asks for a plan by structured output, runs it, then asks for the answer. llama.cpp's server,
for one, never calls a tool on its own, and refuses an assistant turn with tool calls but no content."""


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible model: OpenAI itself, vLLM, Ollama or a llama.cpp server."""

    model: str
    base_url: str | None = None
    """None means OpenAI's own API."""
    api_key: SecretStr = field(default_factory=lambda: SecretStr("not-needed"))
    structured_method: StructuredMethod = "auto"
    timeout_seconds: float = 20.0
    """One call's deadline, retries not included."""
    tool_calling: ToolCalling = "auto"

    @property
    def name(self) -> str:
        """What the circuit breaker is keyed by: calls to one server share one breaker."""
        return f"{self.base_url or 'openai'}#{self.model}"

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own API, where every structured-output and tool feature works."""
        return self.base_url is None or "api.openai.com" in self.base_url

    @property
    def tool_mode(self) -> Literal["native", "planned"]:
        """Native tool calling on OpenAI, planned elsewhere; an explicit setting always wins."""
        if self.tool_calling != "auto":
            return self.tool_calling
        return "native" if self.is_openai else "planned"


@dataclass(frozen=True)
class Budgets:
    """Token and cost ceilings; a turn that would exceed one degrades instead of calling the model."""

    tokens_per_conversation: int = 40_000
    tokens_per_day: int = 5_000_000
    cost_per_day: float | None = None
    """In the currency of the prices below; None for no cost ceiling."""
    input_price_per_million: float = 0.0
    output_price_per_million: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The estimated price of one call."""
        return (
            input_tokens * self.input_price_per_million + output_tokens * self.output_price_per_million
        ) / 1_000_000


@dataclass(frozen=True)
class Resilience:
    """Retries for transient errors and the circuit breaker per endpoint."""

    max_attempts: int = 2
    """Attempts per call for timeouts, connection errors, 429s and 5xx; other errors are not retried."""
    backoff_seconds: float = 0.25
    breaker_threshold: int = 3
    """Consecutive failed calls after which the endpoint's breaker opens."""
    breaker_reset_seconds: float = 30.0
    """How long an open breaker refuses calls before it lets one through to test the endpoint."""


@dataclass(frozen=True)
class LLMConfig:
    """Everything LLM mode needs to know; absent (None in the context) means offline mode."""

    default: Endpoint
    overrides: dict[AgentName, Endpoint] = field(default_factory=dict)
    budgets: Budgets = field(default_factory=Budgets)
    resilience: Resilience = field(default_factory=Resilience)
    triage_confidence_threshold: float = 0.6
    """Below this local confidence the triage model is asked to adjudicate."""
    max_agent_steps: int = 4
    """Model calls a specialist may make in one turn (tool rounds plus the answer)."""

    def endpoint(self, agent: AgentName) -> Endpoint:
        """The endpoint an agent uses: its override, or the default."""
        return self.overrides.get(agent, self.default)
